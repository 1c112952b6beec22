"""API keys: created once, shown once, stored hashed.

A key reads ``nba_<id>_<secret>``: the id is public (``nbamcp keys list`` shows
it, logs may name it), the secret is 32 random bytes and is never stored: the
store keeps its SHA-256 (a fast hash is right for random secrets of this size;
slow hashes exist for guessable passwords). Verification looks the id up and
compares digests in constant time.

``FileKeyStore`` keeps the keys in one JSON file (mode 0600) that the CLI and
a running server share: writers take an exclusive ``flock`` and replace the file
atomically; readers re-read it whenever its identity (inode, size, mtime)
changes, checked on every lookup, so a revoked key is refused at once.
``MemoryKeyStore`` is its twin for tests; both pass ``tests/frontend/auth``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import msgspec

from nbamcp.errors import ConfigError, InvalidInput, NotFound

PREFIX = "nba_"
SCOPES = ("read", "predict", "admin", "metrics")
ALL_SCOPES = list(SCOPES)
_TOKEN = re.compile(r"^nba_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """One key as stored: everything but the secret."""

    id: str
    tenant: str
    scopes: list[str]
    sha256: str  # hex digest of the secret
    created_at: float
    revoked_at: float | None = None
    # None: the [limits] defaults apply.
    rate_per_minute: float | None = None
    burst: int | None = None
    daily_quota: int | None = None
    note: str = ""

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyLimits(msgspec.Struct, frozen=True, kw_only=True):
    rate_per_minute: float | None = None
    burst: int | None = None
    daily_quota: int | None = None


class _KeyFile(msgspec.Struct, kw_only=True):
    version: int = 1
    keys: list[ApiKey] = []


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else None."""
    m = _TOKEN.match(token)
    return (m.group(1), m.group(2)) if m else None


def check_scopes(scopes: list[str]) -> list[str]:
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise InvalidInput(
            f"unknown scope(s) {bad or scopes!r}: a key's scopes are some of {', '.join(SCOPES)}"
        )
    return sorted(set(scopes), key=SCOPES.index)


def check_tenant(tenant: str) -> str:
    if not _TENANT.match(tenant):
        raise InvalidInput(
            f"tenant {tenant!r}: 1-64 characters (letters, digits, '.', '_', '-'), "
            "starting with a letter or digit"
        )
    return tenant


def check_limits(limits: KeyLimits) -> KeyLimits:
    if limits.rate_per_minute is not None and not limits.rate_per_minute > 0:
        raise InvalidInput("--rate-per-minute must be > 0")
    if limits.burst is not None and limits.burst < 1:
        raise InvalidInput("--burst must be >= 1")
    if limits.daily_quota is not None and limits.daily_quota < 0:
        raise InvalidInput("--daily-quota must be >= 0 (0: no quota)")
    return limits


def new_key(tenant: str, scopes: list[str], limits: KeyLimits, note: str = "") -> tuple[ApiKey, str]:
    """A fresh key record and its token (the only time the secret exists)."""
    check_limits(limits)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(
        id=key_id,
        tenant=check_tenant(tenant),
        scopes=check_scopes(scopes),
        sha256=digest(secret),
        created_at=time.time(),
        rate_per_minute=limits.rate_per_minute,
        burst=limits.burst,
        daily_quota=limits.daily_quota,
        note=note,
    )
    return record, f"{PREFIX}{key_id}_{secret}"


def matches(record: ApiKey, secret: str) -> bool:
    return hmac.compare_digest(record.sha256, digest(secret))


class KeyStore(Protocol):
    """Where keys live. ``lookup`` always reflects the latest revocation."""

    def create(
        self, tenant: str, scopes: list[str], limits: KeyLimits | None = None, note: str = ""
    ) -> tuple[ApiKey, str]: ...

    def list_keys(self) -> list[ApiKey]: ...

    def revoke(self, key_id: str) -> ApiKey: ...

    def lookup(self, key_id: str) -> ApiKey | None: ...


def verify(store: KeyStore, token: str) -> ApiKey | None:
    """The active key ``token`` names, or None (malformed, unknown, wrong secret, revoked)."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    record = store.lookup(parsed[0])
    if record is None or not record.active or not matches(record, parsed[1]):
        return None
    return record


def _revoked(record: ApiKey | None, key_id: str) -> ApiKey:
    if record is None:
        raise NotFound(f"no key with id {key_id!r}: `nbamcp keys list` shows the ids")
    return msgspec.structs.replace(record, revoked_at=record.revoked_at or time.time())


class MemoryKeyStore:
    """The in-process twin of :class:`FileKeyStore`."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}

    def create(
        self, tenant: str, scopes: list[str], limits: KeyLimits | None = None, note: str = ""
    ) -> tuple[ApiKey, str]:
        record, token = new_key(tenant, scopes, limits or KeyLimits(), note)
        self._keys[record.id] = record
        return record, token

    def list_keys(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda k: k.created_at)

    def revoke(self, key_id: str) -> ApiKey:
        record = _revoked(self._keys.get(key_id), key_id)
        self._keys[key_id] = record
        return record

    def lookup(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)


_DECODER = msgspec.json.Decoder(_KeyFile)
_ENCODER = msgspec.json.Encoder()


class FileKeyStore:
    """Keys in one JSON file shared by the CLI and running servers."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._keys: dict[str, ApiKey] = {}

    # ---- reading ---------------------------------------------------------------------------------
    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._keys = None, {}
            return
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp != self._stamp:
            self._keys = {k.id: k for k in self._read().keys}
            self._stamp = stamp

    def _read(self) -> _KeyFile:
        try:
            return _DECODER.decode(self.path.read_bytes())
        except FileNotFoundError:
            return _KeyFile()
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ConfigError(f"keys file {self.path} is unreadable or damaged: {exc}") from None

    def list_keys(self) -> list[ApiKey]:
        self._refresh()
        return sorted(self._keys.values(), key=lambda k: k.created_at)

    def lookup(self, key_id: str) -> ApiKey | None:
        self._refresh()
        return self._keys.get(key_id)

    # ---- writing ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[_KeyFile]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self._read()
            yield data
            self._write(data)
        finally:
            os.close(fd)  # releases the lock

    def _write(self, data: _KeyFile) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_ENCODER.encode(data))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def create(
        self, tenant: str, scopes: list[str], limits: KeyLimits | None = None, note: str = ""
    ) -> tuple[ApiKey, str]:
        record, token = new_key(tenant, scopes, limits or KeyLimits(), note)
        with self._locked() as data:
            data.keys.append(record)
        return record, token

    def revoke(self, key_id: str) -> ApiKey:
        with self._locked() as data:
            found = next((k for k in data.keys if k.id == key_id), None)
            record = _revoked(found, key_id)
            data.keys = [record if k.id == key_id else k for k in data.keys]
        return record
