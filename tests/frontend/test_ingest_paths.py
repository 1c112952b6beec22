"""ingest_games reads only inside its roots: links are followed and checked, sizes bounded, and
refusals name a root by its setting, never by its absolute path (over an MCP client)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import msgspec
from mcp import Client

from nbamcp.actor import open_context
from nbamcp.bus import InMemoryBus
from nbamcp.config import StatsConfig
from nbamcp.frontend.app import build_server
from nbamcp.frontend.gateway import Gateway
from tests.frontend.conftest import WAIT, stats_config, text
from workers.stats import StatsWorker


async def test_links_sizes_and_refusals(stats_home: Path, data_dir: Path, tmp_path: Path) -> None:
    drop = stats_home / "drop"
    drop.mkdir()
    header = (data_dir / "games" / "games_538_1947_2023.csv").read_text().splitlines()[0]
    (drop / "new.csv").write_text(f"{header}\n2023-10-24,2024,0,0,DEN,LAL,119,107,,,,,,,,,,\n")
    (drop / "passwd.csv").symlink_to("/etc/passwd")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(f"{header}\n")
    (drop / "elsewhere").symlink_to(outside, target_is_directory=True)  # not walked into
    (drop / "loop.csv").symlink_to(drop / "loop.csv")
    (drop / "big.csv").write_text(header + "\n" + "x," * (1 << 20))  # over 1 MB
    config = stats_config(stats_home, data_dir)
    config = msgspec.structs.replace(config, stats=StatsConfig(auto_ingest=False, max_file_mb=1))
    bus = InMemoryBus()
    try:
        with anyio.fail_after(WAIT):
            async with open_context(bus, config) as ctx:
                worker = StatsWorker(ctx)
                await worker.start()
                try:
                    async with Client(
                        build_server(Gateway(bus, timeout_s=WAIT, expected_workers=["stats"]))
                    ) as c:
                        walked = await c.call_tool("ingest_games", {"paths": [str(drop)]})
                        refusals = [
                            await c.call_tool("ingest_games", {"paths": [p]})
                            for p in ("/etc/passwd", str(drop / "passwd.csv"), str(drop / "big.csv"),
                                      str(drop / "nope.csv"), str(drop / "loop.csv"))
                        ]  # fmt: skip
                finally:
                    await worker.stop(5.0)
    finally:
        with anyio.CancelScope(shield=True):
            await bus.close()

    assert not walked.is_error, text(walked)
    report = walked.structured_content["report"]
    dumped = json.dumps(walked.structured_content) + text(walked)
    assert "root:" not in dumped and "secret" not in dumped  # /etc/passwd and the linked folder unread
    assert [f["path"] for f in report["files"]] == [str(drop / "new.csv")]
    assert walked.structured_content["new_games"] == 1
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert reasons["passwd.csv"].startswith("a link to a file outside the folders ingest may read")
    assert reasons["big.csv"] == "larger than stats.max_file_mb (1 MB)"
    assert reasons["loop.csv"] == "a broken link"
    for r, why in zip(
        refusals,
        ("is outside the folders", "is outside the folders", "is larger than stats.max_file_mb (1 MB)",
         "does not exist", "does not exist"),
        strict=True,
    ):  # fmt: skip
        msg = text(r)
        assert r.is_error and msg.startswith("invalid_input: paths: ") and why in msg, msg
        assert "(accepted: files or folders inside paths.data_dir (NBAMCP_DATA_DIR), paths.home" in msg
        accepted = msg.split("(accepted:")[1]  # the roots by their settings, never their paths
        assert str(data_dir) not in accepted and str(stats_home) not in accepted and "/" not in accepted
