"""``nbamcp keys create | list | revoke``: the operator's side of the keys file."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import msgspec

from nbamcp.config import Config
from nbamcp.frontend.auth.keys import ApiKey, FileKeyStore, KeyLimits


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "-"


def _limits(k: ApiKey, config: Config) -> str:
    lim = config.limits
    rate = k.rate_per_minute if k.rate_per_minute is not None else lim.rate_per_minute
    burst = k.burst if k.burst is not None else lim.burst
    quota = k.daily_quota if k.daily_quota is not None else lim.daily_quota
    return f"{rate:g}/min burst {burst} quota {quota or 'none'}/day"


def _public(k: ApiKey) -> dict[str, object]:
    out: dict[str, object] = msgspec.to_builtins(k)
    del out["sha256"]
    return out


def run_keys(config: Config, args: argparse.Namespace) -> str:
    store = FileKeyStore(config.keys_path)
    if args.keys_command == "create":
        scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
        limits = KeyLimits(
            rate_per_minute=args.rate_per_minute, burst=args.burst, daily_quota=args.daily_quota
        )
        record, token = store.create(args.tenant, scopes, limits, note=args.note)
        if args.json:
            return json.dumps({"key": token, **_public(record)})
        return (
            f"{token}\n"
            f"# key {record.id} for tenant {record.tenant}, scopes {','.join(record.scopes)}, "
            f"{_limits(record, config)}\n"
            "# This is the only time the key is shown: it is stored hashed in "
            f"{store.path}. Clients send `Authorization: Bearer <key>`."
        )
    if args.keys_command == "list":
        keys = store.list_keys()
        if args.json:
            rows = [_public(k) | {"limits": _limits(k, config)} for k in keys]
            return json.dumps(rows)
        lines = [f"{'id':12}  {'tenant':16}  {'scopes':26}  {'limits':34}  {'created':20}  revoked"]
        lines += [
            f"{k.id:12}  {k.tenant:16}  {','.join(k.scopes):26}  {_limits(k, config):34}  "
            f"{_when(k.created_at):20}  {_when(k.revoked_at)}"
            for k in keys
        ]
        return "\n".join(lines) if keys else f"no keys in {store.path}"
    record = store.revoke(args.id)
    return f"key {record.id} (tenant {record.tenant}) revoked at {_when(record.revoked_at)}"
