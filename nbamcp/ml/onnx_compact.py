"""Lossless compaction of exported tree ensembles: ai.onnx.ml TreeEnsemble (opset 5).

skl2onnx writes gradient boosting as ``TreeEnsembleClassifier`` (ai.onnx.ml 3):
every node, leaf or not, carries its tree id, node id, a mode *string*, a hit
rate, and each leaf's weight again with its tree and node ids. The opset-5
``TreeEnsemble`` keeps only interior nodes (modes as one byte each, children
addressed as node or leaf indices) and the leaf weights once, with the same
float32 thresholds and weights: the same trees in about a third of the bytes,
the same probabilities (the rewrite is checked to reproduce the original's
outputs exactly on rows the caller gives).

Only binary classifiers with one score per leaf are rewritten (what
HistGradientBoostingClassifier exports); a graph with any other tree node is
returned unchanged, because the old operators are deprecated in opset 5 and
cannot share a graph with the new one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

ML = "ai.onnx.ml"
TREE_OPSET = 5
_MODES = {
    b"BRANCH_LEQ": 0,
    b"BRANCH_LT": 1,
    b"BRANCH_GTE": 2,
    b"BRANCH_GT": 3,
    b"BRANCH_EQ": 4,
    b"BRANCH_NEQ": 5,
}
_OLD_TREES = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _convertible(a: dict[str, Any]) -> bool:
    return (
        list(a.get("classlabels_int64s", [])) == [0, 1]
        and set(a.get("class_ids", [])) <= {0}
        and a.get("post_transform", b"NONE") in (b"NONE", b"LOGISTIC")
        and set(a.get("nodes_modes", [])) <= {*_MODES, b"LEAF"}
        and len(a.get("base_values", [0.0])) == 1
    )


def _tree_ensemble(a: dict[str, Any], x: str, out: str, name: str) -> onnx.NodeProto:
    """The opset-5 node summing the same trees' leaf weights (no base value, no transform)."""
    tids, nids, modes = a["nodes_treeids"], a["nodes_nodeids"], a["nodes_modes"]
    interior: dict[tuple[int, int], int] = {}
    leaves: dict[tuple[int, int], int] = {}
    for k, key in enumerate(zip(tids, nids, strict=True)):
        index = leaves if modes[k] == b"LEAF" else interior
        index[key] = len(index)
    weight = np.zeros(len(leaves), dtype=np.float64)
    for t, n, w in zip(a["class_treeids"], a["class_nodeids"], a["class_weights"], strict=True):
        weight[leaves[(t, n)]] += w
    cols: dict[str, list[Any]] = {c: [0] * len(interior) for c in ("f", "m", "miss", "tn", "tl", "fn", "fl")}
    splits = np.zeros(len(interior), dtype=np.float32)
    missing = a.get("nodes_missing_value_tracks_true") or [0] * len(tids)
    for k, key in enumerate(zip(tids, nids, strict=True)):
        j = interior.get(key)
        if j is None:
            continue
        cols["f"][j], cols["m"][j] = a["nodes_featureids"][k], _MODES[modes[k]]
        cols["miss"][j], splits[j] = missing[k], a["nodes_values"][k]
        for child, node_col, leaf_col in (
            (a["nodes_truenodeids"][k], "tn", "tl"),
            (a["nodes_falsenodeids"][k], "fn", "fl"),
        ):
            ck = (key[0], child)
            is_leaf = ck in leaves
            cols[node_col][j] = leaves[ck] if is_leaf else interior[ck]
            cols[leaf_col][j] = int(is_leaf)
    roots = []
    for t in sorted(set(tids)):
        root = min(n for tt, n in zip(tids, nids, strict=True) if tt == t)
        if (t, root) in leaves:  # a tree that is one leaf: a split leading to it both ways
            j = len(cols["f"])
            for c, v in (("f", 0), ("m", 0), ("miss", 0), ("tn", leaves[(t, root)]), ("tl", 1),
                         ("fn", leaves[(t, root)]), ("fl", 1)):  # fmt: skip
                cols[c].append(v)
            splits = np.append(splits, np.float32(0.0))
            roots.append(j)
        else:
            roots.append(interior[(t, root)])
    return helper.make_node(
        "TreeEnsemble", [x], [out], domain=ML, name=name,
        n_targets=1, aggregate_function=1, post_transform=0, tree_roots=roots,
        nodes_modes=numpy_helper.from_array(np.asarray(cols["m"], dtype=np.uint8)),
        nodes_featureids=cols["f"], nodes_splits=numpy_helper.from_array(splits),
        nodes_truenodeids=cols["tn"], nodes_trueleafs=cols["tl"],
        nodes_falsenodeids=cols["fn"], nodes_falseleafs=cols["fl"],
        nodes_missing_value_tracks_true=cols["miss"],
        leaf_targetids=[0] * len(leaves),
        leaf_weights=numpy_helper.from_array(weight.astype(np.float32)),
    )  # fmt: skip


def _replacement(
    node: onnx.NodeProto, a: dict[str, Any], used: set[str]
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Nodes giving the classifier's outputs that are ``used``: scores [n, 2] = [-s, s] (post
    NONE) or [1 - sigmoid(s), sigmoid(s)] (LOGISTIC), s = base value + the trees' sum, and the
    label [n] (s > 0)."""
    p = node.name or node.output[1]
    label, scores = node.output[0], node.output[1]
    base = numpy_helper.from_array(
        np.array([[a.get("base_values", [0.0])[0]]], dtype=np.float32), f"{p}_base"
    )
    zero = numpy_helper.from_array(np.array(0.0, dtype=np.float32), f"{p}_zero")
    one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), f"{p}_one")
    flat = numpy_helper.from_array(np.array([-1], dtype=np.int64), f"{p}_flat")
    nodes = [
        _tree_ensemble(a, node.input[0], f"{p}_sum", f"{p}_v5"),
        helper.make_node("Add", [f"{p}_sum", base.name], [f"{p}_s"], name=f"{p}_add"),
    ]
    if a.get("post_transform", b"NONE") == b"LOGISTIC":
        nodes += [
            helper.make_node("Sigmoid", [f"{p}_s"], [f"{p}_hi"], name=f"{p}_sigmoid"),
            helper.make_node("Sub", [one.name, f"{p}_hi"], [f"{p}_lo"], name=f"{p}_complement"),
        ]
    else:
        nodes += [
            helper.make_node("Identity", [f"{p}_s"], [f"{p}_hi"], name=f"{p}_id"),
            helper.make_node("Neg", [f"{p}_s"], [f"{p}_lo"], name=f"{p}_neg"),
        ]
    nodes.append(helper.make_node("Concat", [f"{p}_lo", f"{p}_hi"], [scores], axis=1, name=f"{p}_scores"))
    inits = [base, one] if a.get("post_transform", b"NONE") == b"LOGISTIC" else [base]
    if label in used:  # the blend's members' labels feed nothing: no work for them
        nodes += [
            helper.make_node("Greater", [f"{p}_s", zero.name], [f"{p}_pos"], name=f"{p}_greater"),
            helper.make_node(
                "Cast", [f"{p}_pos"], [f"{p}_label2d"], to=onnx.TensorProto.INT64, name=f"{p}_cast"
            ),
            helper.make_node("Reshape", [f"{p}_label2d", flat.name], [label], name=f"{p}_label"),
        ]
        inits += [zero, flat]
    return nodes, inits


def compact_trees(data: bytes) -> bytes:
    """The model with every binary tree classifier re-encoded as an opset-5 TreeEnsemble; the
    input bytes unchanged when there is no tree node or one that cannot be rewritten."""
    model = onnx.load_from_string(data)
    graph = model.graph
    trees = [n for n in graph.node if n.domain == ML and n.op_type in _OLD_TREES]
    if not trees:
        return data
    attrs = {id(n): _attrs(n) for n in trees}
    if any(n.op_type != "TreeEnsembleClassifier" or not _convertible(attrs[id(n)]) for n in trees):
        return data
    others = {n.op_type for n in graph.node if n.domain == ML and n.op_type not in _OLD_TREES}
    if any(onnx.defs.get_schema(op, TREE_OPSET, ML).deprecated for op in others):
        return data
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    nodes: list[onnx.NodeProto] = []
    for n in graph.node:
        if id(n) in attrs:
            new, inits = _replacement(n, attrs[id(n)], used)
            nodes += new
            graph.initializer.extend(inits)
        else:
            nodes.append(n)
    del graph.node[:]
    graph.node.extend(nodes)
    for op in model.opset_import:
        if op.domain == ML:
            op.version = TREE_OPSET
    model.ir_version = max(model.ir_version, 10)  # opset-5 ai.onnx.ml needs IR 10
    onnx.checker.check_model(model)
    return model.SerializeToString()
