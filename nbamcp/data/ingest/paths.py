"""Which files a request may make the ingester read: inside named roots, bounded in size and number.

A path given by a client, and every file found by walking a folder it names, is resolved
(symlinks followed) and must lie inside one of the roots; a file that does not, or one
larger than the size limit, is refused. Refusals name a root by its setting
(``paths.data_dir``), never by its absolute path, so a client learns nothing of the
server's disk from them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nbamcp.data.ingest.report import SkippedFile
from nbamcp.errors import InvalidInput

MAX_FILES = 2000  # files one request may walk; the shared data has 9


@dataclass(frozen=True)
class Root:
    setting: str  # how the operator names it: "paths.data_dir (NBAMCP_DATA_DIR)"
    path: Path  # resolved


class IngestRoots:
    def __init__(
        self, roots: Sequence[tuple[str, Path]], *, max_bytes: int, max_files: int = MAX_FILES
    ) -> None:
        self.roots = [Root(setting, Path(path).expanduser().resolve()) for setting, path in roots]
        self.max_bytes = max_bytes
        self.max_files = max_files

    def names(self) -> str:
        return ", ".join(r.setting for r in self.roots)

    def _root_of(self, path: Path) -> Root | None:
        return next((r for r in self.roots if path == r.path or path.is_relative_to(r.path)), None)

    def _refuse(self, raw: str, why: str) -> InvalidInput:
        return InvalidInput(
            f"paths: {raw!r} {why} (accepted: files or folders inside {self.names()})",
            details={"param": "paths"},
        )

    def collect(self, raws: Sequence[str]) -> tuple[list[Path], list[SkippedFile]]:
        """The files to read for ``raws`` (files or folders), and the ones found but refused."""
        files: list[Path] = []
        skipped: list[SkippedFile] = []
        for raw in raws:
            path = Path(raw).expanduser()
            try:
                real = path.resolve(strict=True)
            except (OSError, RuntimeError):  # missing, a link loop, unreadable
                raise self._refuse(raw, "does not exist") from None
            if self._root_of(real) is None:
                raise self._refuse(raw, "is outside the folders ingest may read")
            if real.is_dir():
                self._walk(real, files, skipped)
            elif real.is_file():
                if real.stat().st_size > self.max_bytes:
                    raise self._refuse(raw, f"is larger than stats.max_file_mb ({self.max_bytes >> 20} MB)")
                files.append(real)
            else:
                raise self._refuse(raw, "is neither a file nor a folder")
        return files, skipped

    def _walk(self, folder: Path, files: list[Path], skipped: list[SkippedFile]) -> None:
        # os.walk does not descend into linked folders; every file, links included, is resolved.
        for top, dirs, names in os.walk(folder, followlinks=False):
            dirs.sort()
            for name in sorted(names):
                found = Path(top) / name
                if len(files) + len(skipped) >= self.max_files:
                    raise InvalidInput(
                        f"paths: more than {self.max_files} files under one request; name the files or "
                        "smaller folders",
                        details={"param": "paths"},
                    )
                try:
                    real = found.resolve(strict=True)
                except (OSError, RuntimeError):
                    skipped.append(SkippedFile(str(found), "a broken link"))
                    continue
                if self._root_of(real) is None:
                    skipped.append(
                        SkippedFile(
                            str(found),
                            f"a link to a file outside the folders ingest may read ({self.names()})",
                        )
                    )
                elif not real.is_file():
                    skipped.append(SkippedFile(str(found), "not a regular file"))
                elif real.stat().st_size > self.max_bytes:
                    skipped.append(
                        SkippedFile(str(found), f"larger than stats.max_file_mb ({self.max_bytes >> 20} MB)")
                    )
                else:
                    files.append(real)
