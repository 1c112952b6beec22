"""API keys over real HTTP: 401 without one, forbidden outside its scopes, revoked at once; --no-auth."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from tests.frontend.web.harness import INIT, MCP_HEADERS, WAIT, call, mcp_session, serving


async def test_401_with_www_authenticate_and_protected_resource_metadata(home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir) as h, h.http() as http:
            for headers in (
                {},
                {"Authorization": "Bearer nba_000000000000_" + "x" * 43},
                {"Authorization": "x"},
            ):
                r = await http.post("/mcp", json=INIT, headers=MCP_HEADERS | headers)
                assert r.status_code == 401
                challenge = r.headers["www-authenticate"]
                assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
            meta_url = challenge.split('resource_metadata="')[1].rstrip('"')
            meta = (await http.get(meta_url)).json()
            assert meta["resource"] == h.url + "/mcp"
            assert (await http.get("/metrics")).status_code == 401
            assert (await http.get("/healthz")).json() == {"status": "ok"}  # probes need no key


async def test_sse_needs_a_key_too(home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, transport="sse") as h, h.http() as http:
            r = await http.get("/sse")
            assert r.status_code == 401 and "resource_metadata" in r.headers["www-authenticate"]


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_scopes(home: Path, data_dir: Path, transport: str) -> None:
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, transport=transport) as h:
            reader = h.key("alice", "read")
            predictor = h.key("bob", "predict")
            async with mcp_session(h, reader) as s:
                err, text, found = await call(s, "find_player", query="jokic")
                assert not err and found["matches"]
                err, text, _ = await call(s, "train_model")
                assert err and text.startswith("forbidden: ") and "'admin'" in text
                err, text, _ = await call(s, "predict_game", home="BOS", away="LAL")
                assert err and text.startswith("forbidden: ") and "'predict'" in text
                err, text, _ = await call(s, "schedule")  # it predicts every game it lists
                assert err and text.startswith("forbidden: schedule needs the 'predict'"), text
                err, text, _ = await call(s, "usage")
                assert err and text.startswith("forbidden: ")
                assert (await s.read_resource("nba://teams")).contents
            async with mcp_session(h, predictor) as s:
                with pytest.raises(MCPError, match="forbidden: resources/read nba://teams needs the 'read'"):
                    await s.read_resource("nba://teams")
                err, text, _ = await call(s, "find_player", query="jokic")
                assert err and "forbidden: find_player needs the 'read' scope" in text


async def test_revoked_key_is_refused_at_once(home: Path, data_dir: Path) -> None:
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir) as h:
            token = h.key("alice", "read")
            key_id = token.split("_")[1]
            async with h.http(token) as http:
                r = await http.post("/mcp", json=INIT, headers=MCP_HEADERS)
                assert r.status_code == 200
                sid = r.headers["mcp-session-id"]
                h.keys.revoke(key_id)  # what `nbamcp keys revoke` does, from another process or this one
                ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
                r = await http.post("/mcp", json=ping, headers=MCP_HEADERS | {"mcp-session-id": sid})
                assert r.status_code == 401
                assert (await http.post("/mcp", json=INIT, headers=MCP_HEADERS)).status_code == 401


async def test_no_auth_is_for_loopback_and_trusts_the_caller(home: Path, data_dir: Path) -> None:
    from nbamcp.errors import ConfigError
    from nbamcp.frontend.gateway import Gateway
    from nbamcp.frontend.service import FrontEndService
    from tests.frontend.web.harness import make_config

    config = make_config(home, data_dir, ["stats"], {})
    with pytest.raises(ConfigError, match="loopback"):
        FrontEndService(config, Gateway(None, timeout_s=1, expected_workers=[]), transport="http",  # type: ignore[arg-type]
                        host="0.0.0.0", port=1, no_auth=True)  # fmt: skip
    with anyio.fail_after(WAIT):
        async with serving(home, data_dir, no_auth=True) as h, mcp_session(h, None) as s:
            err, _, found = await call(s, "find_player", query="lebron")
            assert not err and found["matches"]
            err, text, _ = await call(s, "usage")
            assert not err, text
