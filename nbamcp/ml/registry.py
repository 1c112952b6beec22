"""Model registry: versions with lineage, the champion/challenger aliases and their audit trail.

Metadata lives in SQLite (aiosqlite, WAL, schema migrations by ``PRAGMA
user_version``); artifact bytes live in the content-addressed ``ArtifactStore``
and are verified against the recorded sha256 and size on every load. One
registry object is one writer: the trainer owns it, readers open their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

import nbamcp
from nbamcp.errors import InvalidInput, NotFound
from nbamcp.ml.artifacts import ArtifactStore
from nbamcp.sqlite import open_db, scripts, transaction

ALIASES = ("champion", "challenger")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE model_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        model_kind TEXT NOT NULL,
        artifact_sha256 TEXT NOT NULL,
        artifact_size INTEGER NOT NULL,
        data_hash TEXT NOT NULL,
        feature_set_version TEXT NOT NULL,
        feature_names TEXT NOT NULL,
        code_version TEXT NOT NULL,
        params TEXT NOT NULL,
        metrics TEXT NOT NULL,
        reference TEXT NOT NULL,
        trained_at TEXT NOT NULL,
        training_seconds REAL NOT NULL,
        registered_at TEXT NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (name, alias),
        FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
    );
    CREATE TABLE alias_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        from_version INTEGER,
        to_version INTEGER NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX alias_audit_by_name ON alias_audit (name, id);
    """,
    # Where a version came from beyond its data and code: the retraining trigger, the job,
    # the champion it was trained to challenge (JSON; '{}' for versions trained by hand).
    """
    ALTER TABLE model_versions ADD COLUMN lineage TEXT NOT NULL DEFAULT '{}';
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


class ModelVersion(msgspec.Struct, frozen=True):
    name: str
    version: int
    model_kind: str
    artifact_sha256: str
    artifact_size: int
    data_hash: str
    feature_set_version: str
    feature_names: list[str]
    code_version: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    reference: dict[str, Any]
    trained_at: str
    training_seconds: float
    registered_at: str
    lineage: dict[str, Any] = {}


class AliasChange(msgspec.Struct, frozen=True):
    name: str
    alias: str
    from_version: int | None
    to_version: int
    actor: str
    reason: str
    at: str


_COLS = (
    "name, version, model_kind, artifact_sha256, artifact_size, data_hash, feature_set_version, "
    "feature_names, code_version, params, metrics, reference, trained_at, training_seconds, registered_at, "
    "lineage"
)
_JSON_COLS = {7, 9, 10, 11, 15}  # positions of JSON text columns in _COLS


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def code_version() -> str:
    """``nbamcp.__version__``, plus ``git describe`` of the source tree when there is one."""
    root = Path(nbamcp.__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return nbamcp.__version__
    desc = out.stdout.strip()
    return f"{nbamcp.__version__}+{desc}" if out.returncode == 0 and desc else nbamcp.__version__


def sample_pointer(reference: dict[str, Any]) -> tuple[str, int] | None:
    """(sha256, size) of the reference sample a version's reference names, if any."""
    s = reference.get("sample")
    if not isinstance(s, dict) or not isinstance(s.get("sha256"), str) or not isinstance(s.get("size"), int):
        return None
    return s["sha256"], s["size"]


def _row_to_version(row: Any) -> ModelVersion:
    values = [msgspec.json.decode(v) if i in _JSON_COLS else v for i, v in enumerate(row)]
    return ModelVersion(*values)


class ModelRegistry:
    """Async registry over one SQLite file and one artifact directory."""

    def __init__(self, conn: aiosqlite.Connection, artifacts: ArtifactStore) -> None:
        self._conn = conn
        self.artifacts = artifacts
        # One connection: write transactions from concurrent tasks must not interleave.
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, db_path: str | Path, artifact_root: str | Path) -> ModelRegistry:
        conn = await open_db(db_path, scripts(*_MIGRATIONS), what="model registry")
        return cls(conn, ArtifactStore(artifact_root))

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One write transaction at a time on the shared connection; rolled back on any error."""
        async with self._write_lock, transaction(self._conn):
            yield

    async def close(self) -> None:
        await self._conn.close()

    async def __aenter__(self) -> ModelRegistry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def register(
        self,
        name: str,
        artifact: bytes,
        *,
        model_kind: str,
        data_hash: str,
        feature_set_version: str,
        feature_names: list[str],
        params: dict[str, Any],
        metrics: dict[str, Any],
        reference: dict[str, Any],
        training_seconds: float,
        trained_at: str | None = None,
        code: str | None = None,
        sample: bytes = b"",
        lineage: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Store the artifact and record a new version (1 + the highest so far for ``name``).

        ``sample`` (an encoded ``ReferenceSample``) is filed in the artifact store too; the
        version's reference records it under ``"sample"`` (sha256, size) for the monitor."""
        if not _NAME.fullmatch(name):
            raise InvalidInput(f"model name {name!r} is not valid: use 1-64 of a-z 0-9 _ . - (start alnum)")
        if not artifact:
            raise InvalidInput("refusing to register an empty artifact")
        sha, size = await asyncio.to_thread(self.artifacts.put, artifact)
        if sample:
            sample_sha, sample_size = await asyncio.to_thread(self.artifacts.put, sample)
            reference = {**reference, "sample": {"sha256": sample_sha, "size": sample_size}}
        async with self._transaction():
            async with self._conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?", (name,)
            ) as cur:
                (version,) = await cur.fetchone() or (1,)
            mv = ModelVersion(
                name=name,
                version=int(version),
                model_kind=model_kind,
                artifact_sha256=sha,
                artifact_size=size,
                data_hash=data_hash,
                feature_set_version=feature_set_version,
                feature_names=list(feature_names),
                code_version=code or code_version(),
                params=params,
                metrics=metrics,
                reference=reference,
                trained_at=trained_at or _now(),
                training_seconds=float(training_seconds),
                registered_at=_now(),
                lineage=dict(lineage or {}),
            )
            enc = msgspec.json.encode
            values = [
                enc(v).decode() if i in _JSON_COLS else v for i, v in enumerate(msgspec.structs.astuple(mv))
            ]
            await self._conn.execute(
                f"INSERT INTO model_versions ({_COLS}) VALUES ({', '.join('?' * len(values))})", values
            )
        return mv

    async def names(self) -> list[str]:
        async with self._conn.execute("SELECT DISTINCT name FROM model_versions ORDER BY name") as cur:
            return [r[0] for r in await cur.fetchall()]

    async def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        sql = f"SELECT {_COLS} FROM model_versions"
        args: tuple[Any, ...] = ()
        if name is not None:
            sql += " WHERE name = ?"
            args = (name,)
        async with self._conn.execute(sql + " ORDER BY name, version", args) as cur:
            return [_row_to_version(r) for r in await cur.fetchall()]

    async def aliases(self, name: str) -> dict[str, int]:
        async with self._conn.execute(
            "SELECT alias, version FROM aliases WHERE name = ? ORDER BY alias", (name,)
        ) as cur:
            return {a: v for a, v in await cur.fetchall()}

    async def get(self, name: str, ref: int | str) -> ModelVersion:
        """A version by number, by alias (``champion``/``challenger``) or ``latest``."""
        version = await self._resolve(name, ref)
        async with self._conn.execute(
            f"SELECT {_COLS} FROM model_versions WHERE name = ? AND version = ?", (name, version)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise await self._not_found(name, ref)
        return _row_to_version(row)

    async def _resolve(self, name: str, ref: int | str) -> int:
        if isinstance(ref, int) and not isinstance(ref, bool):
            return ref
        text = str(ref).strip()
        if text.isdigit():
            return int(text)
        if text == "latest":
            async with self._conn.execute(
                "SELECT MAX(version) FROM model_versions WHERE name = ?", (name,)
            ) as cur:
                (v,) = await cur.fetchone() or (None,)
        else:
            async with self._conn.execute(
                "SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, text)
            ) as cur:
                row = await cur.fetchone()
            v = row[0] if row else None
        if v is None:
            raise await self._not_found(name, ref)
        return int(v)

    async def _not_found(self, name: str, ref: int | str) -> NotFound:
        versions = [v.version for v in await self.list_versions(name)]
        if not versions:
            names = await self.names()
            return NotFound(
                f"no model named {name!r}; registered models: {', '.join(names) or '(none)'}",
                details={"models": ",".join(names)},
            )
        aliases = await self.aliases(name)
        alias_text = ", ".join(f"{a}={v}" for a, v in aliases.items()) or "none set"
        return NotFound(
            f"model {name!r} has no version or alias {ref!r}; versions: "
            f"{', '.join(map(str, versions))}; aliases: {alias_text}; or 'latest'",
            details={"versions": ",".join(map(str, versions)), "aliases": alias_text},
        )

    async def set_alias(self, name: str, alias: str, version: int, actor: str, reason: str) -> AliasChange:
        """Point ``alias`` at ``version`` and append the change to the audit trail."""
        if alias not in ALIASES:
            raise InvalidInput(f"alias {alias!r} is not one of {', '.join(ALIASES)}")
        if not actor.strip() or not reason.strip():
            raise InvalidInput("an alias change needs a non-empty actor and reason for the audit trail")
        await self.get(name, int(version))  # NotFound listing what exists
        at = _now()
        async with self._transaction():
            async with self._conn.execute(
                "SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, alias)
            ) as cur:
                row = await cur.fetchone()
            previous = row[0] if row else None
            await self._conn.execute(
                "INSERT INTO aliases (name, alias, version, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, "
                "updated_at = excluded.updated_at",
                (name, alias, int(version), at),
            )
            await self._conn.execute(
                "INSERT INTO alias_audit (name, alias, from_version, to_version, actor, reason, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, alias, previous, int(version), actor, reason, at),
            )
        return AliasChange(name, alias, previous, int(version), actor, reason, at)

    async def audit(self, name: str) -> list[AliasChange]:
        """Every alias change of ``name``, oldest first."""
        async with self._conn.execute(
            "SELECT name, alias, from_version, to_version, actor, reason, at FROM alias_audit "
            "WHERE name = ? ORDER BY id",
            (name,),
        ) as cur:
            return [AliasChange(*r) for r in await cur.fetchall()]

    async def load_artifact(self, version: ModelVersion) -> bytes:
        """The version's artifact bytes, verified (IntegrityError when tampered, truncated or missing)."""
        return await asyncio.to_thread(
            self.artifacts.get, version.artifact_sha256, size=version.artifact_size
        )

    async def load_sample(self, version: ModelVersion) -> bytes | None:
        """The version's encoded reference sample, verified; None for a version registered without."""
        pointer = sample_pointer(version.reference)
        if pointer is None:
            return None
        return await asyncio.to_thread(self.artifacts.get, pointer[0], size=pointer[1])

    async def model_card(self, name: str, ref: int | str) -> dict[str, Any]:
        """A JSON-ready card for ``nba://models/{name}/{version}``."""
        mv = await self.get(name, ref)
        aliases = [a for a, v in (await self.aliases(name)).items() if v == mv.version]
        feats = mv.reference.get("features", {})
        scope = (
            "Rosters, not availability: who is on each team (season tables, live rosters and trades from "
            "their date on), not who plays tonight (injuries, rest)."
            if mv.feature_set_version == "fs2"
            else "Team-level results only: no injuries, rest decisions or roster changes inside a season."
        )
        return {
            "uri": f"nba://models/{mv.name}/{mv.version}",
            "name": mv.name,
            "version": mv.version,
            "aliases": aliases,
            "model_kind": mv.model_kind,
            "task": "P(home team wins) for an NBA game, from point-in-time "
            + ("team and roster features" if mv.feature_set_version == "fs2" else "team features"),
            "artifact": {"format": "onnx", "sha256": mv.artifact_sha256, "size_bytes": mv.artifact_size},
            "lineage": {
                "data_hash": mv.data_hash,
                "feature_set_version": mv.feature_set_version,
                "code_version": mv.code_version,
                "trained_at": mv.trained_at,
                "training_seconds": mv.training_seconds,
                "registered_at": mv.registered_at,
                **mv.lineage,
            },
            "features": [
                {"name": f, "mean": feats.get(f, {}).get("mean"), "missing": feats.get(f, {}).get("missing")}
                for f in mv.feature_names
            ],
            "params": mv.params,
            "metrics": mv.metrics,
            "limitations": [
                scope,
                "Probabilities are calibrated on past seasons; eras with unusual home court (2021) drift.",
            ],
            "attribution": "Baseline comparisons: FiveThirtyEight (CC BY 4.0).",
        }
