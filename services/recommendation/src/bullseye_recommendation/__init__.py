"""Bullseye recommendation: a model trained offline on people's ordered interactions,
exported to ONNX with the scoring inside the graph, scored from each person's current
history at request time."""
