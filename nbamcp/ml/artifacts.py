"""Content-addressed artifact store: bytes filed under their own sha256.

Layout: ``<root>/sha256/ab/abcdef...`` (first two hex digits as a fan-out
directory). Writes go to a temporary file then ``os.replace``, so a reader never
sees half an artifact. Every read re-hashes the bytes: a flipped bit, a
truncated file or a missing file raises ``IntegrityError``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from nbamcp.errors import IntegrityError, InvalidInput

_HEX64 = re.compile(r"[0-9a-f]{64}")


class ArtifactStore:
    """Immutable blobs on disk, addressed by sha256."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if not _HEX64.fullmatch(sha256):
            raise InvalidInput(f"not a sha256 hex digest: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256

    def put(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; return (sha256, size). Storing the same bytes twice is a no-op."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha)
        if path.exists() and self._digest(path) == sha:
            return sha, len(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha, len(data)

    def get(self, sha256: str, *, size: int | None = None) -> bytes:
        """The bytes stored under ``sha256``, verified against it (and ``size`` when given)."""
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(
                f"artifact {sha256[:12]}... is missing from {self.root} (expected at {path})",
                details={"sha256": sha256},
            ) from None
        if size is not None and len(data) != size:
            raise IntegrityError(
                f"artifact {sha256[:12]}... is {len(data)} bytes, the registry recorded {size}: "
                "truncated or replaced; refusing to load it",
                details={"sha256": sha256},
            )
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise IntegrityError(
                f"artifact {sha256[:12]}... fails its hash check (content hashes to {actual[:12]}...): "
                "modified on disk; refusing to load it",
                details={"sha256": sha256, "actual": actual},
            )
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    @staticmethod
    def _digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()
