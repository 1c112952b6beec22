"""The MCP SDK's ``TokenVerifier`` over a key store, and who is calling.

The SDK's bearer middleware calls :meth:`ApiKeyVerifier.verify_token` on every
HTTP request (so a revoked key is refused on its next request) and puts the
``AccessToken`` in the request context, where ``get_access_token()`` finds it
inside tool calls. The token field holds ``key:<id>``, never the secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

from nbamcp.frontend.auth.keys import ALL_SCOPES, ApiKey, KeyStore, verify

LOCAL_TENANT = "local"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: a key (tenant, scopes), or the trusted local user."""

    tenant: str
    key_id: str
    scopes: tuple[str, ...]
    # The key's own limits; None: the [limits] defaults.
    rate_per_minute: float | None = None
    burst: int | None = None
    daily_quota: int | None = None

    @property
    def trusted(self) -> bool:
        """stdio, or HTTP with --no-auth: no key, every scope, no limits."""
        return not self.key_id

    def label(self) -> str:
        return self.key_id or self.tenant


LOCAL = Principal(tenant=LOCAL_TENANT, key_id="", scopes=tuple(ALL_SCOPES))


def access_token_for(record: ApiKey) -> AccessToken:
    return AccessToken(
        token=f"key:{record.id}",
        client_id=record.id,
        scopes=list(record.scopes),
        subject=record.tenant,
        claims={
            "tenant": record.tenant,
            "rate_per_minute": record.rate_per_minute,
            "burst": record.burst,
            "daily_quota": record.daily_quota,
        },
    )


class ApiKeyVerifier:
    """``mcp.server.auth.provider.TokenVerifier`` for ``nba_...`` API keys."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    async def verify_token(self, token: str) -> AccessToken | None:
        record = verify(self.store, token)
        return None if record is None else access_token_for(record)


def principal_of(token: AccessToken) -> Principal:
    claims = token.claims or {}
    return Principal(
        tenant=str(claims.get("tenant") or token.subject or token.client_id),
        key_id=token.client_id,
        scopes=tuple(token.scopes),
        rate_per_minute=claims.get("rate_per_minute"),
        burst=claims.get("burst"),
        daily_quota=claims.get("daily_quota"),
    )


def current_principal(*, key_required: bool) -> Principal | None:
    """Who makes the current MCP request; None when a key was required and none came."""
    token = get_access_token()
    if token is not None:
        return principal_of(token)
    return None if key_required else LOCAL
