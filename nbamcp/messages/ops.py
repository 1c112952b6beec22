"""Operations over the bus: a backup of every worker's home (``nba.ops.backup``, scatter-gather)."""

from __future__ import annotations

from nbamcp.messages.base import Message


class BackupRequest(Message, frozen=True):
    """Back your home up into ``<dest>/<name>/<your instance>`` (a folder on the worker's machine)."""

    dest: str  # an absolute folder
    name: str  # the backup's folder name, the same for every worker: nbamcp-<UTC stamp>


class BackupPart(Message, frozen=True):
    """One worker's part of a backup: a complete home backup with its own manifest."""

    worker: str
    instance: str
    part: str  # the part's folder under <dest>/<name>
    home: str
    files: int
    bytes: int
    digest: str  # the part manifest's digest
