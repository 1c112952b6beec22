"""Key stores: the JSON file and its in-memory twin pass the same tests; keys are never stored in clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbamcp.errors import InvalidInput, NotFound
from nbamcp.frontend.auth.keys import FileKeyStore, KeyLimits, KeyStore, MemoryKeyStore, parse_token, verify
from nbamcp.frontend.auth.verifier import ApiKeyVerifier, principal_of


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> KeyStore:
    return MemoryKeyStore() if request.param == "memory" else FileKeyStore(tmp_path / "keys.json")


def test_create_verify_revoke(store: KeyStore) -> None:
    record, token = store.create("alice", ["predict", "read"], KeyLimits(burst=3))
    assert parse_token(token) == (record.id, token.split("_", 2)[2])
    assert record.scopes == ["read", "predict"]  # canonical order
    assert record.burst == 3 and record.rate_per_minute is None
    assert verify(store, token) == record
    assert verify(store, token[:-1] + ("A" if token[-1] != "A" else "B")) is None  # wrong secret
    assert verify(store, "nba_" + "0" * 12 + "_" + "x" * 43) is None  # unknown id
    assert verify(store, "Bearer nonsense") is None
    revoked = store.revoke(record.id)
    assert revoked.revoked_at is not None and not revoked.active
    assert verify(store, token) is None
    assert [k.id for k in store.list_keys()] == [record.id]


def test_bad_input(store: KeyStore) -> None:
    with pytest.raises(InvalidInput, match="unknown scope"):
        store.create("alice", ["read", "root"])
    with pytest.raises(InvalidInput, match="tenant"):
        store.create("bad tenant!", ["read"])
    with pytest.raises(InvalidInput, match="burst"):
        store.create("alice", ["read"], KeyLimits(burst=0))
    with pytest.raises(NotFound, match="keys list"):
        store.revoke("000000000000")
    assert store.list_keys() == []


async def test_verifier_gives_the_sdk_an_access_token_without_the_secret(store: KeyStore) -> None:
    record, token = store.create("bob", ["read", "admin"], KeyLimits(rate_per_minute=10, daily_quota=7))
    access = await ApiKeyVerifier(store).verify_token(token)
    assert access is not None
    assert access.client_id == record.id and access.scopes == ["read", "admin"]
    assert token.split("_", 2)[2] not in access.model_dump_json()
    who = principal_of(access)
    assert (who.tenant, who.key_id, who.rate_per_minute, who.daily_quota) == ("bob", record.id, 10, 7)
    assert await ApiKeyVerifier(store).verify_token("nope") is None


def test_file_store_hashes_locks_and_sees_other_writers(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    server_view = FileKeyStore(path)
    cli_view = FileKeyStore(path)
    record, token = cli_view.create("alice", ["read"])
    secret = token.split("_", 2)[2]
    text = path.read_text()
    assert secret not in text and record.sha256 in text
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert verify(server_view, token) is not None
    cli_view.revoke(record.id)
    assert verify(server_view, token) is None  # the other instance sees it on the next lookup


def test_concurrent_cli_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    code = (
        "import sys; from pathlib import Path; from nbamcp.frontend.auth.keys import FileKeyStore; "
        "s = FileKeyStore(Path(sys.argv[1])); [s.create(f't{i}', ['read']) for i in range(20)]"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)]) for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    assert len(json.loads(path.read_text())["keys"]) == 80


def test_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    from nbamcp.errors import ConfigError

    path = tmp_path / "keys.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="damaged"):
        FileKeyStore(path).list_keys()
