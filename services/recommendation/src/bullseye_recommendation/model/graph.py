"""The ONNX graph of a `LinearItemModel`, with the whole scoring inside it.

Inputs (batch B, history length L, catalogue N, candidates M):
    history_items   int64   [B, L]  item indices, most recent first (padding: any index)
    history_ages    float32 [B, L]  0 = most recent (the trainer's unit: rank in the order)
    history_weights float32 [B, L]  net feedback strength; 0 for padding, < 0 subtracts
    exclude         bool    [B, N]  items that must not come back (seen, out of stock, ...)
    candidates      int64   [B, M]  items to score as given (M may be 0)
    k               int64   [1]     how many top items (1 <= k <= N)
Outputs:
    top_items  int64 [B, k], top_scores float32 [B, k]  best first; excluded items score -inf
    candidate_scores float32 [B, M]                       the candidates' scores, exclusions applied

How: the history's coefficients weight × decay_c ** age (one per item and channel) multiply
the item's gathered rows, so a call reads L × channels rows of N floats and never the whole
table; then the mask, TopK and the candidates' gather. Only one table is stored, item-major
([N · channels, N]), so one Gather fetches every channel of an item in one go.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bullseye_recommendation.model.linear import LinearItemModel

OPSET = 17
INPUTS = ("history_items", "history_ages", "history_weights", "exclude", "candidates", "k")
OUTPUTS = ("top_items", "top_scores", "candidate_scores")


def build(model: LinearItemModel, *, producer_version: str = "") -> onnx.ModelProto:
    """The graph for `model`; it is checked before it is returned.

    Raises:
        onnx.checker.ValidationError: the graph is malformed (a bug here, not in the model).
    """
    n, channels = model.n_items, len(model.decays)
    graph = helper.make_graph(
        [*_coefficients(), *_history_scores(), *_selection()],
        "bullseye_recommendation",
        _inputs(n),
        _outputs(),
        initializer=_constants(model, n, channels),
    )
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


def _constants(model: LinearItemModel, n: int, channels: int) -> list[TensorProto]:
    const = numpy_helper.from_array
    return [
        const(model.rows.reshape(n * channels, n), "table"),
        const(model.decays.astype(np.float32), "decays"),
        const(np.array([channels], dtype=np.int64), "channels"),
        const(np.arange(channels, dtype=np.int64), "channel_offsets"),
        const(np.array([n], dtype=np.int64), "n_items"),
        const(np.array([1], dtype=np.int64), "one"),
        const(np.array([2], dtype=np.int64), "axis_2"),
        const(np.array(-np.inf, dtype=np.float32), "minus_inf"),
    ]


def _coefficients() -> list[onnx.NodeProto]:
    """coefficients[b, l, c] = weight[b, l] · decays[c] ** age[b, l]; rows[b, l, c] = item · C + c."""
    node = helper.make_node
    return [
        node("Unsqueeze", ["history_ages", "axis_2"], ["ages_3d"]),
        node("Pow", ["decays", "ages_3d"], ["kernel"]),
        node("Unsqueeze", ["history_weights", "axis_2"], ["weights_3d"]),
        node("Mul", ["kernel", "weights_3d"], ["coefficients"]),
        node("Unsqueeze", ["history_items", "axis_2"], ["items_3d"]),
        node("Mul", ["items_3d", "channels"], ["item_base"]),
        node("Add", ["item_base", "channel_offsets"], ["row_index"]),
    ]


def _history_scores() -> list[onnx.NodeProto]:
    """scores[b] = coefficients[b] (as [1, L·C]) @ gathered rows[b] (as [L·C, N])."""
    node = helper.make_node
    return [
        node("Gather", ["table", "row_index"], ["rows"], axis=0),
        node("Shape", ["history_items"], ["batch"], start=0, end=1),
        node("Shape", ["history_items"], ["length"], start=1, end=2),
        node("Mul", ["length", "channels"], ["terms"]),
        node("Concat", ["batch", "terms", "n_items"], ["rows_shape"], axis=0),
        node("Concat", ["batch", "one", "terms"], ["coefficients_shape"], axis=0),
        # allowzero: an empty history has 0 terms, which must stay 0, not copy a dimension
        node("Reshape", ["rows", "rows_shape"], ["rows_2d"], allowzero=1),
        node("Reshape", ["coefficients", "coefficients_shape"], ["coefficients_row"], allowzero=1),
        node("MatMul", ["coefficients_row", "rows_2d"], ["scores_3d"]),
        node("Squeeze", ["scores_3d", "one"], ["scores"]),
    ]


def _selection() -> list[onnx.NodeProto]:
    node = helper.make_node
    return [
        node("Where", ["exclude", "minus_inf", "scores"], ["masked"]),
        node("TopK", ["masked", "k"], ["top_scores", "top_items"], axis=-1, largest=1, sorted=1),
        node("GatherElements", ["masked", "candidates"], ["candidate_scores"], axis=1),
    ]
