"""ingest_games on a folder of files reports MCP progress, per file (a real client's callback)."""

from __future__ import annotations

import itertools
from pathlib import Path

import anyio

from tests.frontend.conftest import WAIT, served, text

FILES = 6


class Notes:
    def __init__(self) -> None:
        self.items: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.items.append((progress, total, message))


async def test_a_folder_ingest_reports_each_file(stats_home: Path, data_dir: Path) -> None:
    drop = stats_home / "season"
    drop.mkdir()
    header = (data_dir / "games" / "games_538_1947_2023.csv").read_text().splitlines()[0]
    for i in range(FILES):  # one day of 2023-24 results per file, none in the store yet
        day = f"2023-10-{24 + i}"
        (drop / f"day_{i}.csv").write_text(f"{header}\n{day},2024,0,0,DEN,LAL,{110 + i},107,,,,,,,,,,\n")
    notes = Notes()
    with anyio.fail_after(WAIT):
        async with served(stats_home, data_dir) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            r = await client.call_tool("ingest_games", {"paths": [str(drop)]}, progress_callback=notes)
            token = await client.call_tool("ingest_games", {"paths": [str(drop)], "progress_token": "x"})
    assert not r.is_error, text(r)
    assert r.structured_content is not None and r.structured_content["new_games"] == FILES
    values = [p for p, _, _ in notes.items]
    assert values[0] == 0.0 and values[-1] == 100.0
    assert all(a < b for a, b in itertools.pairwise(values)), values  # MCP: always growing
    assert all(total == 100.0 for _, total, _ in notes.items)
    messages = [m or "" for _, _, m in notes.items]
    # A step per file, in order, each naming it; the last note is the ingest's summary.
    for i in range(FILES):
        assert any(m.startswith(f"{i + 1}/{FILES} day_{i}.csv") for m in messages), messages
    assert messages[-1] == text(r)
    # The token is the front end's, not a parameter.
    assert "progress_token" not in tools["ingest_games"].input_schema["properties"]
    assert token.is_error and text(token).startswith("invalid_input: progress_token: unknown parameter")
