"""Browser sessions for the dashboard: the key is typed once, a cookie stands for it afterwards.

The cookie is a random id that means something only to this process (a restart
logs everyone out); it expires after ``auth.dashboard_session_s`` and dies with
its key: every use looks the key up again, so revoking a key ends its browser
sessions at once. The cookie is HttpOnly and SameSite=Strict, and Secure when the
server is reached over HTTPS.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import Scope

from nbamcp.frontend.auth.keys import KeyStore, verify
from nbamcp.frontend.auth.verifier import ApiKeyVerifier, Principal, access_token_for, principal_of

COOKIE = "nbamcp_dashboard"
MAX_SESSIONS = 10_000


@dataclass(frozen=True, slots=True)
class _Login:
    key_id: str
    expires: float


class DashboardSessions:
    def __init__(self, store: KeyStore, *, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._clock = clock
        self._logins: dict[str, _Login] = {}

    def login(self, token: str) -> tuple[str, Principal] | None:
        record = verify(self.store, token)
        if record is None:
            return None
        now = self._clock()
        if len(self._logins) >= MAX_SESSIONS:
            self._logins = {k: v for k, v in self._logins.items() if v.expires > now}
            if len(self._logins) >= MAX_SESSIONS:  # still full: drop the oldest
                self._logins.pop(next(iter(self._logins)))
        sid = secrets.token_urlsafe(32)
        self._logins[sid] = _Login(record.id, now + self.ttl_s)
        return sid, principal_of(access_token_for(record))

    def principal(self, sid: str) -> Principal | None:
        login = self._logins.get(sid)
        if login is None:
            return None
        record = self.store.lookup(login.key_id)
        if login.expires < self._clock() or record is None or not record.active:
            self._logins.pop(sid, None)
            return None
        return principal_of(access_token_for(record))

    def logout(self, sid: str) -> None:
        self._logins.pop(sid, None)


class Identify:
    """Who sends an HTTP request: a bearer key, else a dashboard cookie, else nobody."""

    def __init__(self, verifier: ApiKeyVerifier, sessions: DashboardSessions) -> None:
        self.verifier = verifier
        self.sessions = sessions

    async def __call__(self, scope: Scope) -> Principal | None:
        headers = Headers(scope=scope)
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            token = await self.verifier.verify_token(auth[7:].strip())
            return principal_of(token) if token is not None else None
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and value:
                return self.sessions.principal(value)
        return None
