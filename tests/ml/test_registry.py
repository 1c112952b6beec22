"""Model registry: versions, aliases with audit trail, verified artifacts, model cards."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import msgspec
import pytest

from nbamcp.errors import IntegrityError, InvalidInput, NotFound
from nbamcp.ml.artifacts import ArtifactStore
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.ml.registry import SCHEMA_VERSION, ModelRegistry
from nbamcp.ml.train import TrainResult, register_result


async def _open(tmp_path: Path) -> ModelRegistry:
    return await ModelRegistry.open(tmp_path / "registry.db", tmp_path / "artifacts")


async def _register_raw(reg: ModelRegistry, data: bytes, name: str = "game") -> int:
    mv = await reg.register(
        name, data, model_kind="logreg", data_hash="d" * 64, feature_set_version="fs1",
        feature_names=["a"], params={"C": 1.0}, metrics={"valid": {"brier": 0.22}},
        reference={"features": {}}, training_seconds=1.5,
    )  # fmt: skip
    return mv.version


async def test_register_and_load_a_trained_model(tmp_path: Path, small_result: TrainResult) -> None:
    async with await _open(tmp_path) as reg:
        mv = await register_result(reg, "game", small_result)
        assert mv.version == 1 and mv.artifact_size == len(small_result.onnx_bytes)
        assert mv.data_hash == small_result.data_hash and mv.feature_set_version == "fs1"
        assert mv.code_version.startswith("0.")
        path = reg.artifacts.path_for(mv.artifact_sha256)
        assert path.parent.name == mv.artifact_sha256[:2] and path.parent.parent.name == "sha256"
        data = await reg.load_artifact(await reg.get("game", 1))
        model = OnnxModel.from_bytes(data)
        assert model.predict_proba(small_result.X_valid[:3]).shape == (3,)
        sample = await reg.load_sample(mv)
        assert sample == msgspec.msgpack.encode(small_result.sample)  # (NaN rows: compare the bytes)
        assert mv.reference["sample"]["size"] == len(sample)
        mv2 = await register_result(reg, "game", small_result)
        assert mv2.version == 2 and mv2.artifact_sha256 == mv.artifact_sha256  # same bytes, same file
        card = await reg.model_card("game", 2)
        assert card["uri"] == "nba://models/game/2"
        assert card["lineage"]["data_hash"] == small_result.data_hash
        assert [f["name"] for f in card["features"]] == small_result.feature_names
        msgspec.json.encode(card)
    # Reopening keeps everything; the schema is at the current version.
    async with await _open(tmp_path) as reg:
        assert [v.version for v in await reg.list_versions("game")] == [1, 2]
    async with aiosqlite.connect(tmp_path / "registry.db") as conn:
        async with conn.execute("PRAGMA user_version") as cur:
            assert (await cur.fetchone())[0] == SCHEMA_VERSION
        async with conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"


async def test_tampered_or_truncated_artifact_is_refused(tmp_path: Path) -> None:
    async with await _open(tmp_path) as reg:
        await _register_raw(reg, b"model-bytes-0123456789")
        mv = await reg.get("game", 1)
        path = reg.artifacts.path_for(mv.artifact_sha256)
        original = path.read_bytes()
        path.write_bytes(original[:5] + bytes([original[5] ^ 1]) + original[6:])  # one flipped bit
        with pytest.raises(IntegrityError, match="fails its hash check"):
            await reg.load_artifact(mv)
        path.write_bytes(original[:-3])
        with pytest.raises(IntegrityError, match="truncated"):
            await reg.load_artifact(mv)
        path.unlink()
        with pytest.raises(IntegrityError, match="missing"):
            await reg.load_artifact(mv)
        # Storing the same bytes again repairs the file.
        ArtifactStore(tmp_path / "artifacts").put(original)
        assert await reg.load_artifact(mv) == original


async def test_aliases_and_their_audit_trail(tmp_path: Path) -> None:
    async with await _open(tmp_path) as reg:
        for i in range(3):
            await _register_raw(reg, f"artifact {i}".encode())
        await reg.set_alias("game", "champion", 1, actor="alice", reason="first model")
        await reg.set_alias("game", "challenger", 2, actor="trainer", reason="nightly retrain")
        await reg.set_alias("game", "champion", 2, actor="bob", reason="challenger won the backtest")
        assert (await reg.get("game", "champion")).version == 2
        assert (await reg.get("game", "latest")).version == 3
        assert (await reg.get("game", "1")).version == 1
        assert await reg.aliases("game") == {"challenger": 2, "champion": 2}
        trail = await reg.audit("game")
        assert [(a.alias, a.from_version, a.to_version, a.actor) for a in trail] == [
            ("champion", None, 1, "alice"),
            ("challenger", None, 2, "trainer"),
            ("champion", 1, 2, "bob"),
        ]
        assert trail[-1].reason == "challenger won the backtest" and trail[-1].at
        assert (await reg.model_card("game", "champion"))["aliases"] == ["challenger", "champion"]


async def test_unknown_names_versions_and_aliases(tmp_path: Path) -> None:
    async with await _open(tmp_path) as reg:
        with pytest.raises(NotFound, match=r"no model named 'game'; registered models: \(none\)"):
            await reg.get("game", 1)
        await _register_raw(reg, b"a")
        await _register_raw(reg, b"b")
        with pytest.raises(NotFound, match="versions: 1, 2; aliases: none set"):
            await reg.get("game", 7)
        with pytest.raises(NotFound, match="no version or alias 'champion'"):
            await reg.get("game", "champion")
        with pytest.raises(NotFound, match="registered models: game"):
            await reg.model_card("other", 1)
        with pytest.raises(NotFound, match="versions: 1, 2"):
            await reg.set_alias("game", "champion", 9, actor="a", reason="r")
        with pytest.raises(InvalidInput, match="champion, challenger"):
            await reg.set_alias("game", "prod", 1, actor="a", reason="r")
        with pytest.raises(InvalidInput, match="actor and reason"):
            await reg.set_alias("game", "champion", 1, actor="", reason="r")
        with pytest.raises(InvalidInput, match="model name"):
            await _register_raw(reg, b"c", name="Bad Name!")
        with pytest.raises(InvalidInput, match="empty artifact"):
            await _register_raw(reg, b"")
        assert await reg.audit("game") == []


async def test_concurrent_registrations_get_distinct_versions(tmp_path: Path) -> None:
    async with await _open(tmp_path) as reg:
        async with asyncio.timeout(10):
            versions = await asyncio.gather(*(_register_raw(reg, f"model {i}".encode()) for i in range(6)))
        assert sorted(versions) == [1, 2, 3, 4, 5, 6]
