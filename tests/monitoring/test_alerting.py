"""Alerts: the store keeps one per condition key per window; the webhook delivers to a real local HTTP
server through its failures (retries with backoff) without holding up the caller; the operations
watch turns workers' counters into latency and error-rate spikes."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from nbamcp.alerting.book import AlertBook
from nbamcp.alerting.ops import OpsWatch
from nbamcp.alerting.webhook import WebhookSink, webhook_host
from nbamcp.config import AlertsConfig
from nbamcp.errors import InvalidInput
from nbamcp.messages import Alert, HealthReport, StoredAlert


def alert(key: str, at: str, severity: str = "warning", source: str = "stats") -> Alert:
    return Alert(key=key, severity=severity, source=source, reason=f"{key} at {at}", raised_at=at,  # type: ignore[arg-type]
                 numbers={"held": 3.0}, subjects=["g1"])  # fmt: skip


async def test_one_alert_per_key_per_window(tmp_path: Path) -> None:
    book = await AlertBook.open(tmp_path / "alerts.sqlite", window_s=3600, keep=100)
    try:
        first = await book.add(alert("anomaly.score_outlier", "2023-04-01T10:00:00Z"))
        assert first is not None and first.repeats == 0
        assert await book.add(alert("anomaly.score_outlier", "2023-04-01T10:20:00Z")) is None
        assert await book.add(alert("anomaly.score_outlier", "2023-04-01T10:50:00Z")) is None
        # The same alert delivered again (at least once delivery) is not a repeat.
        assert await book.add(alert("anomaly.score_outlier", "2023-04-01T10:50:00Z")) is None
        other = await book.add(alert("anomaly.mass_upsets", "2023-04-01T10:30:00Z", "critical"))
        later = await book.add(alert("anomaly.score_outlier", "2023-04-01T11:00:01Z"))
        assert other is not None and later is not None
        listed, total = await book.recent()
        assert total == 3 and [a.alert_id for a in listed] == [later.alert_id, other.alert_id, first.alert_id]
        folded = await book.get(first.alert_id)
        assert folded is not None and folded.repeats == 2 and folded.last_seen == "2023-04-01T10:50:00Z"
        crit, n = await book.recent(severity="critical")
        assert n == 1 and crit[0].key == "anomaly.mass_upsets"
        since, n = await book.recent(since="2023-04-01T10:45:00Z")
        assert n == 1 and since[0].alert_id == later.alert_id
        assert (await book.recent(since="2023-04-02"))[1] == 0
        with pytest.raises(InvalidInput, match="ISO 8601"):
            await book.recent(since="yesterday")
        await book.mark_delivered(first.alert_id)
        assert [a.alert_id for a in await book.undelivered()] == [other.alert_id, later.alert_id]
    finally:
        await book.close()


async def test_the_store_keeps_the_newest(tmp_path: Path) -> None:
    book = await AlertBook.open(tmp_path / "alerts.sqlite", window_s=60, keep=10)
    try:
        for i in range(25):
            await book.add(alert(f"k{i}", f"2023-04-01T10:{i:02d}:00Z"))
        listed, total = await book.recent(limit=100)
        assert total == 10 and listed[0].key == "k24" and listed[-1].key == "k15"
    finally:
        await book.close()


async def test_writes_from_many_coroutines_take_turns(tmp_path: Path) -> None:
    """New alerts from the bus and the webhook's delivery marks share one connection: concurrent
    writes must not open a transaction inside another (they did: the webhook task died)."""
    book = await AlertBook.open(tmp_path / "alerts.sqlite", window_s=60, keep=1000)
    try:
        first = [await book.add(alert(f"k{i}", f"2023-04-01T09:{i:02d}:00Z")) for i in range(20)]
        adds = [book.add(alert(f"n{i}", f"2023-04-01T10:{i:02d}:00Z")) for i in range(20)]
        marks = [book.mark_delivered(a.alert_id) for a in first if a is not None]
        await asyncio.gather(*adds, *marks)
        assert (await book.recent(limit=100))[1] == 40 and len(await book.undelivered()) == 20
    finally:
        await book.close()


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that answers 503 to the first ``fail`` POSTs, then 200."""

    fail = 0
    bodies: list[dict[str, object]] = []
    statuses: list[int] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = 503 if len(self.statuses) < self.fail else 200
        self.statuses.append(status)
        if status == 200:
            self.bodies.append(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass


@contextlib.contextmanager
def receiving(fail: int) -> Iterator[tuple[str, type[Receiver]]]:
    """A real HTTP server on a free port, failing the first ``fail`` POSTs: (its URL, its handler)."""
    handler = type("R", (Receiver,), {"fail": fail, "bodies": [], "statuses": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook?token=secret", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    with receiving(fail=2) as r:
        yield r


def stored(alert_id: int, key: str) -> StoredAlert:
    return StoredAlert(alert_id=alert_id, key=key, severity="warning", source="stats", reason="r",
                       raised_at="2023-04-01T10:00:00Z", numbers={}, subjects=[], repeats=0,
                       last_seen="2023-04-01T10:00:00Z", delivered=False)  # fmt: skip


async def test_webhook_retries_with_backoff_then_delivers(receiver: tuple[str, type[Receiver]]) -> None:
    url, handler = receiver
    delivered: list[int] = []
    done = asyncio.Event()

    async def on_delivered(alert_id: int) -> None:
        delivered.append(alert_id)
        if len(delivered) == 2:
            done.set()

    sink = WebhookSink(url, timeout_s=5, retries=3, backoff_s=0.01, queue_size=10, on_delivered=on_delivered)
    task = asyncio.create_task(sink.run())
    try:
        # offer() only queues: the caller goes on at once, whatever the receiver does.
        assert sink.offer(stored(1, "anomaly.score_outlier")) and sink.offer(
            stored(2, "ops.latency_ms.stats")
        )
        with anyio.fail_after(60):
            await done.wait()
    finally:
        task.cancel()
    assert handler.statuses == [503, 503, 200, 200]
    assert delivered == [1, 2] and [b["key"] for b in handler.bodies] == [
        "anomaly.score_outlier",
        "ops.latency_ms.stats",
    ]
    assert sink.attempts == 4 and sink.delivered == 2 and sink.failed == 0
    assert webhook_host(url) == f"http://127.0.0.1:{url.split(':')[2].split('/')[0]}"  # no path, no token


async def test_webhook_gives_up_after_its_retries(receiver: tuple[str, type[Receiver]]) -> None:
    url, handler = receiver
    handler.fail = 100
    sink = WebhookSink(url, timeout_s=5, retries=2, backoff_s=0.01, queue_size=1, on_delivered=_never)
    with anyio.fail_after(60):
        assert await sink._deliver(stored(1, "k")) is False
    assert handler.statuses == [503, 503, 503]
    assert sink.offer(stored(2, "k")) and not sink.offer(stored(3, "k")) and sink.dropped == 1  # bounded


async def test_webhook_to_nobody_fails_fast() -> None:
    sink = WebhookSink("http://127.0.0.1:9/", timeout_s=2, retries=1, backoff_s=0.01, queue_size=1,
                       on_delivered=_never)  # fmt: skip
    with anyio.fail_after(60):
        assert await sink._deliver(stored(1, "k")) is False
    with pytest.raises(InvalidInput, match="http"):
        WebhookSink(
            "file:///etc/passwd", timeout_s=1, retries=0, backoff_s=1, queue_size=1, on_delivered=_never
        )


async def _never(alert_id: int) -> None:
    raise AssertionError("nothing is delivered")


def report(name: str, instance: str, requests: int, errors: int, busy_s: float) -> HealthReport:
    return HealthReport(name=name, instance=instance, status="ok", version="t", uptime_s=1.0, bus="memory",
                        requests=requests, request_errors=errors, busy_s=busy_s)  # fmt: skip


def test_ops_watch_spikes_latency_and_errors_per_worker() -> None:
    watch = OpsWatch(AlertsConfig(ops_min_history=5, ops_min_requests=20))
    n, busy, errors = 0, 0.0, 0
    assert watch.observe([report("stats", "s1", 0, 0, 0.0)]) == []  # first sight: no interval yet
    for i in range(10):  # quiet: 100 requests an interval at 2-2.4 ms, no errors
        n, busy = n + 100, busy + 0.2 + 0.004 * (i % 3)
        assert watch.observe([report("stats", "s1", n, 0, busy)]) == []
    # A quiet interval with too few requests is not judged, however slow.
    assert watch.observe([report("stats", "s1", n + 5, 0, busy + 5.0)]) == []
    n, busy = n + 5, busy + 5.0
    # 100 requests at 30 ms: a latency spike; then a burst of errors.
    [spike] = watch.observe([report("stats", "s1", n + 100, 0, busy + 3.0)])
    assert spike.key == "ops.latency_ms.stats" and spike.value == pytest.approx(30.0)
    assert "above its limit" in spike.reason and spike.requests == 100
    n, busy = n + 100, busy + 3.0
    [err] = watch.observe([report("stats", "s1", n + 100, errors + 40, busy + 0.2)])
    assert err.key == "ops.error_rate.stats" and err.value == pytest.approx(0.4)
    # A restarted instance (counters back to 0) starts afresh instead of a negative interval.
    assert watch.observe([report("stats", "s1", 10, 0, 0.01)]) == []
