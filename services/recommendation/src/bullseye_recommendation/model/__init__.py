"""The served model: its numpy reference, its ONNX graph, the runtime and the metadata."""
