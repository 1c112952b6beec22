"""Fuzz every tool through a real MCP client over stdio, from the schema the server publishes.

For each tool in ``tools/list``: arguments drawn from its ``inputSchema`` (with real names
mixed in), then hostile ones around them. Every answer must be a result (the SDK client checks
``structuredContent`` against the ``outputSchema``) or a tool error starting with a stable
code — never ``internal``, never a hang (each call is bounded) — and arguments the published
schema rejects must come back ``invalid_input: <param>: ...``. After each tool, ``health``
still answers ``ok`` and the server's log holds no crash.

CI-sized and stable: fixed example counts, ``derandomize=True`` and no example database, so
every run tries the same calls.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbamcp.errors import ErrorCode
from tests.fuzz.conftest import TALLY, FuzzServer
from tests.fuzz.hostile import (
    EVERY_PARAMETER,
    as_the_server_reads,
    hostile_args,
    schema_args,
    valid_example,
    wrong_shapes,
)

TOOLS = [
    "health", "find_player", "player_season_stats", "player_career", "compare_players", "team_season",
    "standings", "games", "head_to_head", "league_leaders", "team_rating_history", "ingest_games",
    "model_status", "predict_game", "predict_games", "train_model", "list_models", "promote_model", "usage",
    "retraining_status", "drift_report", "calibration_report", "alerts", "held_games", "accept_games",
    "schedule",
]  # fmt: skip
# Valid arguments to train_model start a real training run (tens of seconds on two cores; its
# own tests cover it): it is fuzzed with arguments the schema rejects only.
NO_VALID_CALLS = {"train_model"}
# A result or one of these; internal, timeout and the bus codes are failures.
ANSWERS = {ErrorCode.INVALID_INPUT, ErrorCode.NOT_FOUND, ErrorCode.AMBIGUOUS, ErrorCode.UNAVAILABLE}
VALID_EXAMPLES = 10
HOSTILE_EXAMPLES = 12

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
        HealthCheck.large_base_example,
    ],
)


def test_the_fuzzed_tools_are_the_published_ones(fuzz_server: FuzzServer) -> None:
    published = sorted(fuzz_server.tools)
    assert published == sorted(TOOLS), (
        f"a tool is not fuzzed (add it to TOOLS): {set(published) ^ set(TOOLS)}"
    )


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


def _shown(args: dict[str, Any]) -> str:
    raw = json.dumps(args, default=repr)
    return raw if len(raw) < 400 else raw[:400] + "..."


def check_answer(server: FuzzServer, name: str, args: dict[str, Any], *, param: str = "") -> None:
    """One call judged: schema-invalid arguments must be ``invalid_input`` (naming ``param``
    when given), valid ones a result or a coded error that is the caller's or a worker's."""
    schema = server.tools[name].input_schema
    valid = jsonschema.Draft202012Validator(schema).is_valid(as_the_server_reads(args, schema))
    result = server.call(name, args)
    text = _text(result)
    code = text.split(":", 1)[0] if result.is_error else "ok"
    TALLY.outcomes[code] += 1
    TALLY.invalid_sent += not valid
    assert "Traceback" not in text and "pydantic" not in text, (name, _shown(args), text[:500])
    if not valid:
        expected = f"invalid_input: {param}" if param else "invalid_input: "
        assert result.is_error and text.startswith(expected), (name, _shown(args), text[:500])
    elif result.is_error:
        assert code in ANSWERS, (name, _shown(args), text[:500])
    else:
        assert server.tools[name].output_schema is None or result.structured_content is not None, name


def check_still_serving(server: FuzzServer) -> None:
    health = server.call("health", {})
    assert not health.is_error and health.structured_content["status"] == "ok", _text(health)
    crashes = []
    for line in server.log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and ("exception" in record or record.get("level") == "critical"):
            crashes.append(line[:2000])
    assert not crashes, "\n".join(crashes)


@pytest.mark.parametrize("name", TOOLS)
def test_arguments_from_the_published_schema(fuzz_server: FuzzServer, name: str) -> None:
    if name in NO_VALID_CALLS:
        pytest.skip(f"{name}: valid calls do real work (covered by its own tests)")

    @settings(FUZZ, max_examples=VALID_EXAMPLES)
    @given(args=st.deferred(lambda: schema_args(fuzz_server.tools[name].input_schema)))
    def fuzz(args: dict[str, Any]) -> None:
        check_answer(fuzz_server, name, args)

    fuzz()
    check_still_serving(fuzz_server)


@pytest.mark.parametrize("name", TOOLS)
def test_every_parameter_in_every_wrong_shape(fuzz_server: FuzzServer, name: str) -> None:
    """The systematic pass: valid arguments with ONE parameter broken, every parameter, every
    shape (its valid value as text, as a boolean, past 2**63, in a list...; 100 KB, NUL, deep
    nesting). What the schema rejects must be ``invalid_input: <that parameter>``."""
    schema = fuzz_server.tools[name].input_schema
    base = valid_example(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(base), (name, base)
    for param, prop in schema["properties"].items():
        shapes = wrong_shapes(base.get(param, prop.get("default"))) + EVERY_PARAMETER
        for value in shapes:
            args = {**base, param: value}
            if name in NO_VALID_CALLS and validator.is_valid(as_the_server_reads(args, schema)):
                continue  # would train a model
            check_answer(fuzz_server, name, args, param=param)
    check_still_serving(fuzz_server)


@pytest.mark.parametrize("name", TOOLS)
def test_hostile_arguments(fuzz_server: FuzzServer, name: str) -> None:
    schema = fuzz_server.tools[name].input_schema
    validator = jsonschema.Draft202012Validator(schema)

    @settings(FUZZ, max_examples=HOSTILE_EXAMPLES)
    @given(args=hostile_args(schema))
    def fuzz(args: dict[str, Any]) -> None:
        if name in NO_VALID_CALLS and validator.is_valid(as_the_server_reads(args, schema)):
            return  # would train a model
        check_answer(fuzz_server, name, args)

    fuzz()
    check_still_serving(fuzz_server)
