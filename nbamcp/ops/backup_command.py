"""``nbamcp backup`` and ``nbamcp restore``: this home's files, or every worker's over the bus.

Without ``--bus`` the CLI backs up the home of its own ``NBAMCP_HOME`` (the
single-process server's, or one worker's on its machine) while the server runs.
With ``--bus nats://...`` it sends ``nba.ops.backup`` and every worker instance backs
up the home it owns into ``DEST/<name>/<instance>`` on its own machine (share
nothing: nobody opens another's files); the CLI gathers the parts, writes
``index.json`` when it sees DEST too, and applies the retention there. JetStream's
streams and buckets are the NATS server's to back up (docs/runbook.md).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec
import structlog

from nbamcp.bus import connect_bus
from nbamcp.bus.base import Msg
from nbamcp.config import Config
from nbamcp.endpoints import BACKUP
from nbamcp.errors import InvalidInput, Unavailable
from nbamcp.messages import BackupPart, BackupRequest, ErrorReply, decoder_for, encode
from nbamcp.ops.backup import (
    PartEntry,
    backup_home,
    backup_name,
    choose_part,
    prune,
    read_manifest,
    resolve_source,
    restore_home,
    total_bytes,
    verify_backup,
    write_index,
)

log = structlog.get_logger(__name__)


def _dest(config: Config, args: Any) -> Path:
    dest = args.dest or config.backup.dir
    if not dest:
        raise InvalidInput("give the backup folder (nbamcp backup DEST) or set [backup] dir")
    return Path(dest).expanduser().resolve()


async def gather_parts(config: Config, dest: Path, name: str) -> tuple[list[BackupPart], list[str]]:
    """Ask every worker on ``config``'s bus to back up its home; (parts, failures) once each expected
    worker answered, or ``backup.timeout_s`` ran out (the missing ones are failures)."""
    token = config.nats_token()
    bus = await connect_bus(
        config.bus.url,
        name="nbamcp-backup",
        token=token.reveal() if token else None,
        connect_timeout=config.bus.connect_timeout_s,
    )
    parts: list[BackupPart] = []
    failures: list[str] = []
    expected = set(config.workers.embedded)
    answered: set[str] = set()
    done = asyncio.Event()
    decoder = decoder_for(BackupPart | ErrorReply)

    async def on_reply(msg: Msg) -> None:
        try:
            reply = decoder.decode(msg.data)
        except msgspec.MsgspecError as exc:
            failures.append(f"a reply that does not decode ({exc})")
            return
        if isinstance(reply, ErrorReply):
            failures.append(f"{reply.code}: {reply.message}")
            # The error names no worker: the deadline decides who is missing.
        else:
            parts.append(reply)
            answered.add(reply.worker)
        if expected <= answered:
            done.set()

    try:
        inbox = bus.new_inbox()
        sub = await bus.subscribe(inbox, on_reply)
        try:
            await bus.publish(BACKUP.subject, encode(BackupRequest(dest=str(dest), name=name)), reply=inbox)
            try:
                async with asyncio.timeout(config.backup.timeout_s):
                    await done.wait()
            except TimeoutError:
                pass  # reported below as missing
        finally:
            await sub.unsubscribe()
    finally:
        await bus.close()
    failures += [f"{w}: no part within {config.backup.timeout_s:g}s" for w in sorted(expected - answered)]
    return parts, failures


async def backup_command(config: Config, dest: Path, *, keep: int, over_bus: bool) -> dict[str, Any]:
    if keep < 1:
        raise InvalidInput(f"--keep must be at least 1, got {keep}")
    if not over_bus:
        path = await asyncio.to_thread(backup_home, config, dest)
        m = read_manifest(path)
        pruned = await asyncio.to_thread(prune, dest, keep)
        return {
            "path": str(path),
            "files": len(m.files),
            "bytes": total_bytes(m),
            "pruned": [str(p) for p in pruned],
        }
    started = time.time()
    name = backup_name(started)
    parts, failures = await gather_parts(config, dest, name)
    folder = dest / name
    out: dict[str, Any] = {
        "path": str(folder),
        "parts": [msgspec.to_builtins(p) for p in sorted(parts, key=lambda p: (p.worker, p.instance))],
        "failures": failures,
        "pruned": [],
    }
    if failures:
        raise Unavailable(
            f"the backup {name} is incomplete ({len(parts)} parts): " + "; ".join(failures),
            details={"path": str(folder)},
        )
    if folder.is_dir():  # DEST is visible here (one machine, or a shared file system)
        entries = tuple(PartEntry(p.worker, p.instance, p.part, p.digest) for p in parts)
        await asyncio.to_thread(write_index, folder, name, started, entries)
        out["pruned"] = [str(p) for p in await asyncio.to_thread(prune, dest, keep)]
    else:
        out["note"] = f"{folder} is not visible from here: the parts are on the workers' machines"
    return out


def _format_backup(r: dict[str, Any]) -> str:
    lines = [f"Backup written to {r['path']}"]
    if "parts" in r:
        lines += [
            f"  {p['worker']} ({p['instance']}): {p['files']} files, {p['bytes']} bytes" for p in r["parts"]
        ]
        if r.get("note"):
            lines.append(f"  {r['note']}")
    else:
        lines[0] += f": {r['files']} files, {r['bytes']} bytes"
    lines += [f"Deleted the older backup {p}" for p in r["pruned"]]
    return "\n".join(lines)


async def restore_command(
    config: Config, src: Path, *, part: str | None, force: bool, check: bool
) -> dict[str, Any]:
    chosen = choose_part(resolve_source(src), part)
    if check:
        m = await asyncio.to_thread(verify_backup, chosen, config)
    else:
        m = await asyncio.to_thread(restore_home, chosen, config, force=force)
    return {
        "source": str(chosen),
        "home": str(config.home),
        "files": len(m.files),
        "bytes": total_bytes(m),
        "taken_at": m.created_at,
        "restored": not check,
    }


def _format_restore(r: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(r["taken_at"]))
    what = f"{r['files']} files, {r['bytes']} bytes, taken {when}"
    if not r["restored"]:
        return f"The backup at {r['source']} is intact ({what}); nothing was written."
    return f"Restored {r['source']} into {r['home']} ({what})."


def _source(arg: str) -> Path:
    src = Path(arg).expanduser().resolve()
    if not src.exists():
        raise InvalidInput(f"{src} does not exist")
    return src


async def run_backup_command(config: Config, args: Any) -> str:
    """``nbamcp backup`` / ``nbamcp restore`` from parsed CLI arguments; the text to print."""
    if args.command == "backup":
        keep = config.backup.keep if args.keep is None else args.keep
        r = await backup_command(config, _dest(config, args), keep=keep, over_bus=bool(args.bus))
        return msgspec.json.encode(r).decode() if args.json else _format_backup(r)
    src = _source(args.src)
    r = await restore_command(config, src, part=args.part, force=args.force, check=args.check)
    return msgspec.json.encode(r).decode() if args.json else _format_restore(r)
