"""The ONNX graph of a `LinearItemModel`, with the whole scoring inside it.

Inputs (batch B, history length L, catalogue N, candidates M):
    history_items   int64   [B, L]  item indices, most recent first (padding: any index)
    history_ages    float32 [B, L]  0 = most recent; ranks in the order (or larger)
    history_weights float32 [B, L]  net feedback strength; 0 for padding, < 0 subtracts
    exclude         bool    [B, N]  items that must not come back (seen, out of stock, ...)
    candidates      int64   [B, M]  items to score as given (M may be 0)
    k               int64   [1]     how many top items (1 <= k <= N)
Outputs:
    top_items  int64 [B, k], top_scores float32 [B, k]  best first; excluded items score -inf
    candidate_scores float32 [B, M]                       the candidates' scores, exclusions applied

How, per channel: the first `horizon` entries of the history (all of them for the taste
channel), their coefficients weight × decay ** age (× the history's mass factor where the
channel has one), the matching rows of the channel's
float16 matrix gathered and cast to float32, one [1, h] × [h, N] product (for a factored
channel [1, h] × [h, rank], then × its [rank, N] basis); the channels' products add up. A
call reads h rows per channel and never a whole matrix. Then the mask, TopK and the
candidates' gather.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bullseye_recommendation.model.linear import MASS_FLOOR, Channel, LinearItemModel

OPSET = 17
INPUTS = ("history_items", "history_ages", "history_weights", "exclude", "candidates", "k")
OUTPUTS = ("top_items", "top_scores", "candidate_scores")
HISTORY = ("history_items", "history_ages", "history_weights")


def build(model: LinearItemModel, *, producer_version: str = "") -> onnx.ModelProto:
    """The graph for `model` at the served precision; it is checked before it is returned.

    Raises:
        onnx.checker.ValidationError: the graph is malformed (a bug here, not in the model).
    """
    served = model.served()
    nodes: list[onnx.NodeProto] = []
    constants = _shared_constants()
    for index, channel in enumerate(served.channels):
        channel_nodes, channel_constants = _channel(index, channel)
        nodes += channel_nodes
        constants += channel_constants
    nodes += _selection(len(served.channels))
    graph = helper.make_graph(nodes, "bullseye_recommendation", _inputs(model.n_items), _outputs(), constants)
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="bullseye-recommendation",
        producer_version=producer_version,
    )
    proto.ir_version = 8  # onnxruntime reads IR 8 with opset 17 everywhere it runs
    onnx.checker.check_model(proto)
    return proto


def _inputs(n: int) -> list[onnx.ValueInfoProto]:
    spec = helper.make_tensor_value_info
    return [
        spec("history_items", TensorProto.INT64, ["batch", "length"]),
        spec("history_ages", TensorProto.FLOAT, ["batch", "length"]),
        spec("history_weights", TensorProto.FLOAT, ["batch", "length"]),
        spec("exclude", TensorProto.BOOL, ["batch", n]),
        spec("candidates", TensorProto.INT64, ["batch", "candidates"]),
        spec("k", TensorProto.INT64, [1]),
    ]


def _outputs() -> list[onnx.ValueInfoProto]:
    spec = helper.make_tensor_value_info
    return [
        spec("top_items", TensorProto.INT64, ["batch", "k"]),
        spec("top_scores", TensorProto.FLOAT, ["batch", "k"]),
        spec("candidate_scores", TensorProto.FLOAT, ["batch", "candidates"]),
    ]


def _shared_constants() -> list[TensorProto]:
    const = numpy_helper.from_array
    return [
        const(np.array([0], dtype=np.int64), "zero"),
        const(np.array([1], dtype=np.int64), "one"),
        const(np.array(-np.inf, dtype=np.float32), "minus_inf"),
    ]


def _channel(index: int, channel: Channel) -> tuple[list[onnx.NodeProto], list[TensorProto]]:
    """part_<index> [B, 1, N] = coefficients [B, 1, h] @ rows [B, h, N] (@ basis [rank, N])."""
    node, name = helper.make_node, f"c{index}"
    constants = [
        numpy_helper.from_array(channel.rows, f"{name}_matrix"),
        numpy_helper.from_array(np.array(channel.decay, dtype=np.float32), f"{name}_decay"),
    ]
    items, ages, weights = HISTORY
    nodes: list[onnx.NodeProto] = []
    if channel.horizon is not None:
        constants.append(numpy_helper.from_array(np.array([channel.horizon], dtype=np.int64), f"{name}_horizon"))
        nodes += [node("Slice", [part, "zero", f"{name}_horizon", "one"], [f"{name}_{part}"]) for part in HISTORY]
        items, ages, weights = (f"{name}_{part}" for part in HISTORY)
    nodes += [
        node("Pow", [f"{name}_decay", ages], [f"{name}_kernel"]),
        node("Mul", [f"{name}_kernel", weights], [f"{name}_weighted"]),
    ]
    if channel.mass_exponent:
        nodes += _mass(name, channel, constants)
    else:
        nodes.append(node("Identity", [f"{name}_weighted"], [f"{name}_coefficients"]))
    nodes += [
        node("Unsqueeze", [f"{name}_coefficients", "one"], [f"{name}_coefficients_row"]),
        node("Gather", [f"{name}_matrix", items], [f"{name}_rows_served"], axis=0),
        node("Cast", [f"{name}_rows_served"], [f"{name}_rows"], to=TensorProto.FLOAT),
    ]
    if channel.basis is None:
        return [*nodes, node("MatMul", [f"{name}_coefficients_row", f"{name}_rows"], [f"part_{index}"])], constants
    constants.append(numpy_helper.from_array(channel.basis.astype(np.float32), f"{name}_basis"))
    nodes += [
        node("MatMul", [f"{name}_coefficients_row", f"{name}_rows"], [f"{name}_factors"]),
        node("MatMul", [f"{name}_factors", f"{name}_basis"], [f"part_{index}"]),
    ]
    return nodes, constants


def _mass(name: str, channel: Channel, constants: list[TensorProto]) -> list[onnx.NodeProto]:
    """coefficients = weighted × max(Σ|weights| / reference, floor) ** -exponent, per person."""
    const, node = numpy_helper.from_array, helper.make_node
    constants += [
        const(np.array(channel.mass_reference, dtype=np.float32), f"{name}_mass_reference"),
        const(np.array(MASS_FLOOR, dtype=np.float32), f"{name}_mass_floor"),
        const(np.array(-channel.mass_exponent, dtype=np.float32), f"{name}_mass_exponent"),
    ]
    return [
        node("Abs", ["history_weights"], [f"{name}_strength"]),
        node("ReduceSum", [f"{name}_strength", "one"], [f"{name}_mass"], keepdims=1),
        node("Div", [f"{name}_mass", f"{name}_mass_reference"], [f"{name}_relative_mass"]),
        node("Max", [f"{name}_relative_mass", f"{name}_mass_floor"], [f"{name}_bounded_mass"]),
        node("Pow", [f"{name}_bounded_mass", f"{name}_mass_exponent"], [f"{name}_mass_factor"]),
        node("Mul", [f"{name}_weighted", f"{name}_mass_factor"], [f"{name}_coefficients"]),
    ]


def _selection(channels: int) -> list[onnx.NodeProto]:
    node = helper.make_node
    return [
        node("Sum", [f"part_{i}" for i in range(channels)], ["scores_3d"]),
        node("Squeeze", ["scores_3d", "one"], ["scores"]),
        node("Where", ["exclude", "minus_inf", "scores"], ["masked"]),
        node("TopK", ["masked", "k"], ["top_scores", "top_items"], axis=-1, largest=1, sorted=1),
        node("GatherElements", ["masked", "candidates"], ["candidate_scores"], axis=1),
    ]
