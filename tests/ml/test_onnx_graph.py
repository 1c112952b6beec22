"""Reading an ONNX graph's nodes without the onnx package: the same as onnx reads, on real exports."""

from __future__ import annotations

import struct

import numpy as np
import onnx
import pytest
from onnx import helper

from nbamcp.ml.onnx_export import to_onnx_bytes
from nbamcp.ml.onnx_graph import OnnxParseError, graph_nodes
from nbamcp.ml.train import TrainResult, build_candidate

PLAIN = (
    onnx.AttributeProto.FLOAT,
    onnx.AttributeProto.INT,
    onnx.AttributeProto.STRING,
    onnx.AttributeProto.FLOATS,
    onnx.AttributeProto.INTS,
    onnx.AttributeProto.STRINGS,
)


def onnx_reading(data: bytes) -> list[tuple[str, dict[str, object]]]:
    graph = onnx.load_from_string(data).graph
    return [
        (
            n.op_type,
            {a.name: helper.get_attribute_value(a) if a.type in PLAIN else None for a in n.attribute},
        )
        for n in graph.node
    ]


def mine(data: bytes) -> list[tuple[str, dict[str, object]]]:
    return [(n.op_type, n.attributes) for n in graph_nodes(data)]


@pytest.mark.parametrize("kind", ["logreg", "hgb", "blend"])
def test_every_candidate_family_reads_as_onnx_reads_it(small_result: TrainResult, kind: str) -> None:
    report = next(c for c in small_result.candidates if c.name == kind)
    X = small_result.X_fit
    seasons = np.repeat([1, 2, 3], [len(X) // 3, len(X) // 3, len(X) - 2 * (len(X) // 3)])
    y = (np.random.default_rng(0).random(len(X)) < 0.6).astype(np.int8)
    fitted = build_candidate(kind, report.params, seasons=seasons).fit(X, y)
    for data in (to_onnx_bytes(fitted, X.shape[1]), to_onnx_bytes(fitted, X.shape[1], compact=False)):
        assert repr(mine(data)) == repr(onnx_reading(data))  # repr: NaN (the imputer's) equals itself


def test_the_served_logistic_graph_gives_its_parameters(small_result: TrainResult) -> None:
    nodes = graph_nodes(small_result.onnx_bytes)
    ops = [n.op_type for n in nodes]
    assert ops[-1] == "LinearClassifier" and "Scaler" in ops
    lin = nodes[-1].attributes
    assert lin["post_transform"] == b"LOGISTIC"
    assert len(lin["coefficients"]) == 2 * small_result.X_fit.shape[1]  # type: ignore[arg-type]


def test_packed_repeated_numbers_and_negative_ints_read_too() -> None:
    # ONNX's own writers emit proto2's unpacked form; a proto3-style writer packs: both are valid.
    def key(number: int, wire: int) -> bytes:
        k = number << 3 | wire  # a varint: field 20 (the type) takes two bytes
        return bytes([k]) if k < 0x80 else bytes([k & 0x7F | 0x80, k >> 7])

    def length(b: bytes) -> bytes:
        return bytes([len(b)]) + b

    floats = struct.pack("<3f", 1.5, -2.0, 0.25)
    minus_one = b"\xff" * 9 + b"\x01"  # int64 -1 as a ten-byte varint
    attr_f = key(1, 2) + length(b"w") + key(20, 0) + bytes([6]) + key(7, 2) + length(floats)
    attr_i = key(1, 2) + length(b"k") + key(20, 0) + bytes([7]) + key(8, 2) + length(b"\x03" + minus_one)
    node = key(4, 2) + length(b"Op") + key(5, 2) + length(attr_f) + key(5, 2) + length(attr_i)
    graph = key(1, 2) + length(node)
    model = key(1, 0) + bytes([8]) + key(7, 2) + length(graph)
    (n,) = graph_nodes(model)
    assert n.op_type == "Op" and n.attributes == {"w": [1.5, -2.0, 0.25], "k": [3, -1]}


@pytest.mark.parametrize(
    "data",
    [b"", b"\x08", b"\x3a\x10abc", b"\x3a\x02\x0a\x05", b"\x07\x00", b"\x3b\x00"],
    ids=["empty", "truncated-varint", "truncated-graph", "truncated-node", "field-zero", "group"],
)
def test_bytes_that_are_not_a_model_are_refused(data: bytes) -> None:
    with pytest.raises(OnnxParseError):
        graph_nodes(data)
