"""The webhook sink: every new alert POSTed as JSON to ``[alerts] webhook_url``, off the event loop.

``offer`` only queues (bounded: when full, the alert stays undelivered in the store and goes out
after the next restart); one background task sends in order, each POST in a thread (stdlib
``urllib``: no client library for one request a while), retried on connection errors, timeouts,
408, 429 and 5xx with exponential backoff (``backoff_s``, doubled each time, at most
``MAX_BACKOFF_S``), at most ``retries`` times. A 4xx other than those is the receiver saying no:
logged, not retried. A delivered alert is marked in the store (``on_delivered``).
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import msgspec
import structlog

from nbamcp.errors import InvalidInput
from nbamcp.messages import StoredAlert

log = structlog.get_logger(__name__)

MAX_BACKOFF_S = 60.0
RETRY_STATUSES = frozenset({408, 429})


def webhook_host(url: str) -> str:
    """What may be shown of the URL: scheme and host (its path or query may carry a token)."""
    if not url:
        return "off"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")


class WebhookSink:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        retries: int,
        backoff_s: float,
        queue_size: int,
        on_delivered: Callable[[int], Awaitable[None]],
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise InvalidInput(f"alerts.webhook_url must be an http(s) URL, got {webhook_host(url)!r}")
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.on_delivered = on_delivered
        self._queue: asyncio.Queue[StoredAlert] = asyncio.Queue(queue_size)
        self.delivered = self.failed = self.attempts = self.dropped = 0
        # Set after each alert is done with (delivered or given up): tests await it.
        self.progress = asyncio.Event()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def offer(self, alert: StoredAlert) -> bool:
        """Queue ``alert`` for delivery; False (and it stays undelivered) when the queue is full."""
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("webhook.queue_full", alert_id=alert.alert_id, key=alert.key)
            return False
        return True

    async def run(self) -> None:
        """Deliver queued alerts until cancelled."""
        while True:
            alert = await self._queue.get()
            if await self._deliver(alert):
                self.delivered += 1
                await self.on_delivered(alert.alert_id)
            else:
                self.failed += 1
            self.progress.set()
            self.progress = asyncio.Event()

    async def _deliver(self, alert: StoredAlert) -> bool:
        body = msgspec.json.encode(alert)
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            self.attempts += 1
            status, error = await asyncio.to_thread(self._post, body)
            if status is not None and 200 <= status < 300:
                return True
            retryable = status is None or status in RETRY_STATUSES or status >= 500
            log.warning(
                "webhook.failed", alert_id=alert.alert_id, attempt=attempt + 1, status=status, error=error,
                host=webhook_host(self.url), retry=retryable and attempt < self.retries,
            )  # fmt: skip
            if not retryable:
                return False
            if attempt < self.retries:
                await asyncio.sleep(delay)  # a real pause: the receiver is down or busy
                delay = min(delay * 2, MAX_BACKOFF_S)
        return False

    def _post(self, body: bytes) -> tuple[int | None, str]:
        req = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "nbamcp-alerts"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return int(resp.status), ""
        except urllib.error.HTTPError as exc:
            return int(exc.code), str(exc.reason)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            return None, str(getattr(exc, "reason", exc))
