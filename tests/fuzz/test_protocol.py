"""Fuzz what a client sends besides tool calls: prompt arguments, resource URIs from the
templates, and completion values — hostile strings through the same real stdio session.

A prompt answers or refuses with -32602 ``invalid_input: ...``; a resource answers or refuses
with a message that starts with a stable code (never ``internal``); a completion always answers
(an empty list when there is nothing to offer). After each, ``health`` still answers ok.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, PromptReference, ResourceTemplateReference

from nbamcp.errors import USER_ERRORS, ErrorCode
from tests.fuzz.conftest import TALLY, FuzzServer
from tests.fuzz.hostile import STRINGS
from tests.fuzz.test_tools import FUZZ, check_still_serving

EXAMPLES = 15
CODES = tuple(f"{c}: " for c in ErrorCode if c != ErrorCode.INTERNAL)
text_value = st.one_of(
    st.sampled_from(STRINGS),
    st.text(max_size=80),
    st.sampled_from(["Celtics", "LeBron James", "2016", "pts"]),
)


def _outcome(value: Any) -> str:
    TALLY.outcomes[f"rpc {value.code}" if isinstance(value, MCPError) else "ok"] += 1
    return "error" if isinstance(value, MCPError) else "ok"


def test_prompt_arguments(fuzz_server: FuzzServer) -> None:
    prompts = fuzz_server.portal.call(fuzz_server.session.list_prompts).prompts
    assert {p.name for p in prompts} >= {"game_preview", "scouting_report"}
    names = {p.name: [a.name for a in p.arguments or []] for p in prompts}

    @settings(FUZZ, max_examples=EXAMPLES)
    @given(
        name=st.sampled_from(sorted(names)),
        values=st.lists(text_value, min_size=0, max_size=3),
        drop=st.booleans(),
    )
    def fuzz(name: str, values: list[str], drop: bool) -> None:
        args = dict(zip(names[name], values, strict=False))
        if drop:
            args.pop(next(iter(args), ""), None)
        got = fuzz_server.request("prompts/get", lambda: fuzz_server.session.get_prompt(name, args))
        if _outcome(got) == "error":
            shown = (name, got.code, got.message[:200])
            assert got.code == INVALID_PARAMS and got.message.startswith("invalid_input: "), shown
            assert "pydantic" not in got.message, shown

    fuzz()
    check_still_serving(fuzz_server)


def test_resource_template_uris(fuzz_server: FuzzServer) -> None:
    templates = fuzz_server.portal.call(fuzz_server.session.list_resource_templates).resource_templates
    uris = sorted(t.uri_template for t in templates)
    assert "nba://leaders/{season}/{stat}" in uris

    @settings(FUZZ, max_examples=EXAMPLES)
    @given(template=st.sampled_from(uris), a=text_value, b=text_value)
    def fuzz(template: str, a: str, b: str) -> None:
        head, rest = template.split("{", 1)
        uri = head + quote(a[:2000], safe="") + "/" + quote(b[:2000], safe="")
        uri = uri if rest.count("{") else head + quote(a[:2000], safe="")
        got = fuzz_server.request("resources/read", lambda: fuzz_server.session.read_resource(uri))
        if _outcome(got) == "error":
            shown = (uri[:120], got.code, got.message[:200])
            assert got.message.startswith(CODES) or got.code == INVALID_PARAMS, shown
            assert "pydantic" not in got.message and "Traceback" not in got.message, shown
            # The caller's mistakes are invalid params; -32603 only for the server's own trouble.
            if got.message.startswith(tuple(f"{c}: " for c in USER_ERRORS)):
                assert got.code == INVALID_PARAMS, shown
            else:
                assert not got.message.startswith(f"{ErrorCode.INTERNAL}: "), shown

    fuzz()
    check_still_serving(fuzz_server)


def test_completion_values(fuzz_server: FuzzServer) -> None:
    refs: list[PromptReference | ResourceTemplateReference] = [
        PromptReference(type="ref/prompt", name="game_preview"),
        PromptReference(type="ref/prompt", name="scouting_report"),
        PromptReference(type="ref/prompt", name="no_such_prompt"),
        ResourceTemplateReference(type="ref/resource", uri="nba://leaders/{season}/{stat}"),
        ResourceTemplateReference(type="ref/resource", uri="nba://models/{name}/{version}"),
    ]
    arguments = ["home", "away", "player", "season", "stat", "name", "version", "nothing"]

    @settings(FUZZ, max_examples=EXAMPLES)
    @given(ref=st.sampled_from(refs), argument=st.sampled_from(arguments), value=text_value)
    def fuzz(ref: PromptReference | ResourceTemplateReference, argument: str, value: str) -> None:
        got = fuzz_server.request(
            "completion/complete",
            lambda: fuzz_server.session.complete(ref, {"name": argument, "value": value}),
        )
        assert _outcome(got) == "ok", (ref, argument, value[:80], str(got)[:200])
        assert len(got.completion.values) <= 100

    fuzz()
    check_still_serving(fuzz_server)
