"""The nodes of an ONNX graph and their plain attributes, read from the model's protobuf bytes.

Serving needs only this from a graph: which operators it chains, and a few
attributes of them (the logistic explainer's imputer, scaler and coefficients).
The ``onnx`` package would read them too, but importing it loads ml_dtypes and
protobuf's message machinery: 0.6-2.5 s of every serving worker's start on
these machines, for a few hundred bytes read once per model load. The protobuf
wire format is small and stable, and ONNX's field numbers never change meaning
(``onnx/onnx.proto``), so this reads the fields it needs and skips the rest.

Read: ``ModelProto.graph`` (7) -> ``GraphProto.node`` (1) -> ``NodeProto.op_type``
(4) and ``.attribute`` (5) -> ``AttributeProto`` name (1), type (20), f (2), i (3),
s (4), floats (7), ints (8), strings (9): the value ``onnx.helper.get_attribute_value``
gives for those types (tensors and graphs are not read: ``None``). Repeated numbers
are accepted packed and unpacked (ONNX's proto2 writers use the unpacked form).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# AttributeProto.AttributeType values (onnx.proto).
FLOAT, INT, STRING, FLOATS, INTS, STRINGS = 1, 2, 3, 6, 7, 8

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_F32 = struct.Struct("<f")
AttrValue = float | int | bytes | list[float] | list[int] | list[bytes] | None


class OnnxParseError(ValueError):
    """The bytes are not a well-formed ONNX model."""


@dataclass(frozen=True)
class Node:
    op_type: str
    attributes: dict[str, AttrValue] = field(default_factory=dict)


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise OnnxParseError("truncated or overlong varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> list[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) in order: an int for varints, bytes for the rest."""
    out: list[tuple[int, int, int | memoryview]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise OnnxParseError("field number 0")
        value: int | memoryview
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire == _LEN:
            size, pos = _varint(buf, pos)
            value = buf[pos : pos + size]
            pos += size
        elif wire == _I32:
            value = buf[pos : pos + 4]
            pos += 4
        elif wire == _I64:
            value = buf[pos : pos + 8]
            pos += 8
        else:  # groups (3, 4) are not in ONNX; anything else is not protobuf
            raise OnnxParseError(f"unexpected wire type {wire}")
        if pos > len(buf):
            raise OnnxParseError("truncated field")
        out.append((number, wire, value))
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v  # int64 as protobuf writes a negative one


def _floats(wire: int, value: int | memoryview) -> list[float]:
    if isinstance(value, int):
        raise OnnxParseError("a float field written as a varint")
    if wire == _I32:
        return [_F32.unpack(value)[0]]
    if len(value) % 4:
        raise OnnxParseError("packed floats of a length not a multiple of 4")
    return [x for (x,) in _F32.iter_unpack(value)]


def _ints(wire: int, value: int | memoryview) -> list[int]:
    if isinstance(value, int):
        return [_signed(value)]
    if wire != _LEN:
        raise OnnxParseError("an int field of a fixed width")
    out, pos = [], 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(_signed(v))
    return out


def _bytes(value: int | memoryview) -> bytes:
    if isinstance(value, int):
        raise OnnxParseError("a bytes field written as a varint")
    return bytes(value)


def _attribute(buf: memoryview) -> tuple[str, AttrValue]:
    name, kind = "", 0
    f: float = 0.0
    i = 0
    s = b""
    floats: list[float] = []
    ints: list[int] = []
    strings: list[bytes] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            name = _bytes(value).decode()
        elif number == 20:
            kind = _ints(wire, value)[-1]
        elif number == 2:
            f = _floats(wire, value)[-1]
        elif number == 3:
            i = _ints(wire, value)[-1]
        elif number == 4:
            s = _bytes(value)
        elif number == 7:
            floats += _floats(wire, value)
        elif number == 8:
            ints += _ints(wire, value)
        elif number == 9:
            strings.append(_bytes(value))
    values: dict[int, AttrValue] = {FLOAT: f, INT: i, STRING: s, FLOATS: floats, INTS: ints, STRINGS: strings}
    return name, values.get(kind)


def _node(buf: memoryview) -> Node:
    op_type = ""
    attributes: dict[str, AttrValue] = {}
    for number, _, value in _fields(buf):
        if number == 4:
            op_type = _bytes(value).decode()
        elif number == 5:
            name, v = _attribute(_view(value))
            attributes[name] = v
    return Node(op_type, attributes)


def _view(value: int | memoryview) -> memoryview:
    if isinstance(value, int):
        raise OnnxParseError("a message field written as a varint")
    return value


def graph_nodes(data: bytes) -> list[Node]:
    """The main graph's nodes in order (OnnxParseError for bytes that are not an ONNX model)."""
    graphs = [v for number, _, v in _fields(memoryview(data)) if number == 7]
    if not graphs:
        raise OnnxParseError("no graph in the model")
    nodes: list[Node] = []
    for number, _, value in _fields(_view(graphs[-1])):
        if number == 1:
            nodes.append(_node(_view(value)))
    return nodes
