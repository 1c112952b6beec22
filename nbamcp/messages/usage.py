"""Usage per tenant and tool: ``nba.usage.*`` (request/reply, queue "usage").

The front end counts calls in memory and sends them in batches
(``UsageBatch`` on ``nba.usage.record``; the batch id makes a retried batch
count once); it asks ``nba.usage.report`` for the ``usage`` tool and
``nba.usage.key_units`` for each key's units of the day (daily quotas).
"""

from __future__ import annotations

import msgspec

from nbamcp.messages.base import Message


class ToolUsage(msgspec.Struct, frozen=True, kw_only=True):
    """One tenant's use of one tool over the period asked for."""

    tenant: str
    tool: str
    calls: int
    errors: int  # tool errors of every kind, refusals (rate_limited, forbidden) included
    units: int  # what the calls cost against the rate limit and the quota
    games: int  # games predicted
    seconds: float  # time spent in the tool


class UsageDelta(msgspec.Struct, frozen=True, kw_only=True):
    hour: str  # UTC, YYYY-MM-DDTHH
    tenant: str
    key_id: str  # "" for the trusted local caller
    tool: str
    calls: int = 0
    errors: int = 0
    units: int = 0
    games: int = 0
    seconds: float = 0.0


class UsageBatch(Message, frozen=True):
    batch_id: str  # unique per front end and batch: stored once however often it is sent
    deltas: list[UsageDelta]


class UsageStored(Message, frozen=True):
    batch_id: str
    duplicate: bool = False  # this batch had been stored before


class UsageQuery(Message, frozen=True):
    tenant: str | None = None
    since_hour: str = ""  # YYYY-MM-DDTHH; "": from the first hour counted


class UsageRows(Message, frozen=True):
    rows: list[ToolUsage]


class KeyUnitsQuery(Message, frozen=True):
    day: str  # YYYY-MM-DD (UTC)


class KeyUnits(Message, frozen=True):
    day: str
    units: dict[str, int]  # key id -> units spent that day
