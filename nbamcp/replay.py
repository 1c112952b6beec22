"""``nbamcp replay``: a season of results fed day by day through the running loop.

One process, the in-memory bus, the real workers (what ``nbamcp serve`` embeds). For each
game date in the files (538 layout), between ``--from`` and ``--to``: predict the day's games
through the inference worker (the served answers, champion and challenger in shadow), then
ingest that day's results through the stats worker's ingest endpoint (a CSV of the day under
the home), and wait for the monitor to have joined them. The trainer's triggers, its queue
and the promotion gate run on their own, as in production. The report: Brier of the served
answers per month, the alerts raised, the retraining triggers and jobs, the gate's decisions
with their numbers, the promotions.

The home: its store must hold no game on or after ``--from``. A fresh home (no games) is
seeded offline with the files' rows before ``--from``, and, with no champion, one is trained
on them (the retraining budget) before the workers start.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, open_context
from nbamcp.bus.memory import InMemoryBus
from nbamcp.calls import call
from nbamcp.config import Config
from nbamcp.errors import InvalidInput, NbaError, Unavailable
from nbamcp.launch import build_worker, stop_actors
from nbamcp.messages import (
    AlertsRequest,
    DriftReportRequest,
    GameQuery,
    IngestRequest,
    MonitorStatusRequest,
    PredictRequest,
    RetrainingStatusRequest,
)
from nbamcp.progress import Progress

log = structlog.get_logger(__name__)

WORKERS = ("stats", "trainer", "inference", "cache", "predlog", "monitor", "alerts")
WAIT_S = 300.0  # bound on every wait for the loop (a join, a job)
GATE_WAIT_S = 30.0


class MonthBrier(msgspec.Struct, frozen=True):
    month: str
    games: int
    brier: float
    served_versions: list[int]


class ReplayReport(msgspec.Struct, frozen=True):
    date_from: str
    date_to: str
    days: int
    games: int
    seconds: float
    brier: float | None
    months: list[MonthBrier]
    alerts: list[dict[str, Any]]
    triggers: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    waiting: dict[str, Any] | None
    promotions: list[dict[str, Any]]
    aliases: dict[str, int]
    seeded: str
    # The drift_report tool's answer at the end of the run, per window (the monitor's own, and
    # the last 30 days), and what the replay checked in the tools' answers ("ok: ..." or
    # "FAILED: ...").
    drift: list[dict[str, Any]] = []
    tool_checks: list[str] = []


def read_rows(files: Sequence[Path]) -> tuple[list[str], list[dict[str, str]]]:
    header: list[str] = []
    rows: list[dict[str, str]] = []
    for path in files:
        if not path.is_file():
            raise InvalidInput(f"no such file: {path}")
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            if not {"date", "team1", "team2", "score1", "score2"} <= set(reader.fieldnames or []):
                raise InvalidInput(f"{path}: not the 538 games layout (date, team1, team2, score1, score2)")
            header = header or list(reader.fieldnames or [])
            rows.extend(reader)
    rows.sort(key=lambda r: r["date"])
    return header, rows


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue())
    return path


async def _played(config: Config) -> list[Any]:
    from nbamcp.data.games import read_played_games

    try:
        return await read_played_games(config.store_path)
    except Unavailable:  # no store yet, or no played game in it
        return []


async def _seed(config: Config, header: list[str], before: list[dict[str, str]], budget: str) -> str:
    """A fresh home gets the files' games before --from, and a champion trained on them."""
    from nbamcp.data.ingest.runner import ingest_paths
    from nbamcp.data.store import open_store
    from nbamcp.ml.registry import ModelRegistry

    _mkdir(Path(config.home))
    said = []
    games = await _played(config)
    if not games:
        if not before:
            raise InvalidInput("the files hold no game before --from to seed the home with")
        seed_dir = _mkdir(Path(config.home) / "replay-seed")
        path = _write(seed_dir / "games_538_seed.csv", header, before)
        store = await open_store(config.store_path)
        try:
            await ingest_paths(store, [path])
        finally:
            await store.close()
        said.append(f"ingested {len(before)} games before --from")
    async with await ModelRegistry.open(config.registry_path, config.artifacts_dir) as reg:
        champion = (await reg.aliases(config.trainer.model_name)).get("champion")
    if champion is None:
        from nbamcp.commands import train_command

        t = config.trainer
        r = await train_command(
            config,
            name=t.model_name,
            train_from=t.train_from,
            valid_seasons=t.valid_seasons,
            seed=t.seed,
            promote=True,
            budget=budget,
            threads=t.threads,
        )
        said.append(f"trained champion v{r.version} ({budget} budget)")
    return "; ".join(said) or "home as found"


def _config_for_replay(config: Config, budget: str | None, min_new_results: int | None) -> Config:
    r = config.retrain
    r = msgspec.structs.replace(
        r,
        budget=budget if budget is not None else r.budget,
        min_new_results=r.min_new_results if min_new_results is None else min_new_results,
    )
    return msgspec.structs.replace(
        config,
        retrain=r,
        stats=msgspec.structs.replace(config.stats, auto_ingest=False),
        trainer=msgspec.structs.replace(config.trainer, auto_train=False),
    )


async def _until(what: str, check: Any, actors: Sequence[Actor]) -> Any:
    """Bounded wait on the loop's state (the workers' own counters, asked over the bus): asked
    again each time one of ``actors`` moves (``Actor.progress``), never on a timer. The events
    are taken before the question, so a move while it is asked is not missed."""
    try:
        with anyio.fail_after(WAIT_S):
            while True:
                events = [a.progress for a in actors]
                got = await check()
                if got:
                    return got
                async with anyio.create_task_group() as tg:

                    async def first(e: asyncio.Event) -> None:
                        await e.wait()
                        tg.cancel_scope.cancel()

                    for e in events:
                        tg.start_soon(first, e)
    except TimeoutError:
        raise Unavailable(f"replay: {what} did not happen within {WAIT_S:g}s") from None


async def replay(
    config: Config,
    files: Sequence[Path],
    *,
    date_from: str | None,
    date_to: str | None,
    budget: str | None = None,
    min_new_results: int | None = None,
    progress: Progress | None = None,
) -> ReplayReport:
    header, rows = read_rows(files)
    if not rows:
        raise InvalidInput("the files hold no games")
    first = date_from or rows[0]["date"]
    last = date_to or rows[-1]["date"]
    if first > last:
        raise InvalidInput(f"--from {first} is after --to {last}")
    window = [r for r in rows if first <= r["date"] <= last and r["score1"] and r["score2"]]
    if not window:
        raise InvalidInput(f"no played game between {first} and {last}")
    config = _config_for_replay(config, budget, min_new_results)
    seed_budget = config.retrain.budget or config.trainer.budget
    seeded = await _seed(config, header, [r for r in rows if r["date"] < first], seed_budget)
    if any(g.date >= first for g in await _played(config)):
        raise InvalidInput(
            f"the home's store already holds games on or after {first}: replay into a fresh home "
            "(or one ingested only up to --from)"
        )
    days: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in window:
        days[r["date"]].append(r)
    day_dir = _mkdir(Path(config.home) / "replay-days")

    started = time.perf_counter()
    served: list[tuple[str, float, int, int]] = []  # (date, home win prob, home won, version)
    bus = InMemoryBus()
    actors: list[Actor] = []
    stack = AsyncExitStack()
    try:
        ctx = await stack.enter_async_context(open_context(bus, config))
        for name in WORKERS:
            actor = build_worker(ctx, name)
            await actor.start()
            actors.append(actor)
        timeout = config.bus.request_timeout_s
        by_name = {a.name: a for a in actors}
        monitor_w, trainer_w = [by_name["monitor"]], [by_name["trainer"], by_name["monitor"]]

        ids = itertools.count(1)

        async def ask(endpoint: Any, request: Any) -> Any:
            # Fresh ids: the inference worker refuses a reused id for a different request.
            rid = f"replay-{next(ids)}"
            return await call(bus, endpoint, request, timeout_s=max(timeout, 60.0), request_id=rid)

        async def settled() -> Any:
            st = await ask(ep.RETRAINING_STATUS, RetrainingStatusRequest(limit=200))
            return st if all(j.state not in ("queued", "running") for j in st.jobs) else None

        async def monitor() -> Any:
            return await ask(ep.MONITOR_STATUS, MonitorStatusRequest())

        for n, (day, games) in enumerate(sorted(days.items())):
            before = await monitor()
            queries = [
                GameQuery(home=g["team1"], away=g["team2"], date=day, neutral=g.get("neutral") == "1")
                for g in games
            ]
            reply = await ask(ep.PREDICT, PredictRequest(games=queries, client="replay"))
            for g, p in zip(games, reply.predictions, strict=True):
                served.append(
                    (day, p.home_win_prob, int(int(g["score1"]) > int(g["score2"])), p.model_version)
                )

            async def logged(b: Any = before, k: int = len(games)) -> bool:
                return bool((await monitor()).predictions_seen >= b.predictions_seen + k)

            await _until(f"the monitor logging {day}'s predictions", logged, monitor_w)
            path = _write(day_dir / f"games_538_{day}.csv", header, games)
            await ask(ep.INGEST, IngestRequest(paths=[str(path)]))

            async def joined(b: Any = before) -> bool:
                return bool((await monitor()).results_events > b.results_events)

            await _until(f"the monitor joining {day}'s results", joined, monitor_w)
            # A day is a day: a retraining it triggered ends before the next day's games are
            # predicted (in production jobs take minutes, days are 24 hours), so the challenger
            # shadows them.
            await _until(f"the retraining jobs of {day} finishing", settled, trainer_w)
            log.info("replay.day", day=day, games=len(games), n=n + 1, of=len(days))
            if progress is not None:
                progress((n + 1) / len(days), f"{day}: {len(games)} games")

        status = await _until("the retraining jobs finishing", settled, trainer_w)

        async def gate_looked() -> Any:
            # The gate looks after every change of the games, in the background: the last day's
            # look at the challenger (its paired count, or its decision) is awaited, briefly; a
            # challenger registered after the last day is reported without one.
            st = await settled()
            if st is None:
                return None
            ch = st.aliases.get("challenger")
            if ch is None or st.waiting is not None or any(d.challenger == ch for d in st.decisions):
                return st
            return None

        with anyio.move_on_after(GATE_WAIT_S):
            status = await _until("the gate's look", gate_looked, trainer_w)
        alerts = await ask(ep.ALERTS_LIST, AlertsRequest())
        drift, checks = [], _check_status(status, config.retrain.gate_min_games)
        for label, req in (
            ("monitor window", DriftReportRequest()),
            ("last 30 days", DriftReportRequest(window_days=30)),
        ):
            try:
                d = (await ask(ep.MONITOR_DRIFT, req)).report
            except NbaError as exc:
                checks.append(f"FAILED: drift_report ({label}): {exc.code}: {exc.message}")
                continue
            drift.append(_drift_row(label, d))
            checks += _check_drift(label, d)
    finally:
        with anyio.CancelScope(shield=True):
            await stop_actors(actors, config.workers.stop_deadline_s)
            await stack.aclose()
            await bus.close()

    months: dict[str, list[tuple[str, float, int, int]]] = defaultdict(list)
    for s in served:
        months[s[0][:7]].append(s)
    month_rows = [
        MonthBrier(
            month=m,
            games=len(v),
            brier=round(sum((p - y) ** 2 for _, p, y, _ in v) / len(v), 4),
            served_versions=sorted({ver for *_, ver in v}),
        )
        for m, v in sorted(months.items())
    ]
    b = msgspec.to_builtins
    return ReplayReport(
        date_from=first,
        date_to=last,
        days=len(days),
        games=len(served),
        seconds=round(time.perf_counter() - started, 1),
        brier=round(sum((p - y) ** 2 for _, p, y, _ in served) / len(served), 4),
        months=month_rows,
        alerts=[b(a) for a in alerts.alerts],
        triggers=[b(t) for t in status.triggers],
        jobs=[b(j) for j in status.jobs],
        decisions=[b(d) for d in status.decisions],
        waiting=b(status.waiting) if status.waiting else None,
        promotions=[b(a) for a in status.audit if a.alias == "champion"],
        aliases=dict(status.aliases),
        seeded=seeded,
        drift=drift,
        tool_checks=checks,
    )


def _check_status(st: Any, gate_min_games: int) -> list[str]:
    """What retraining_status must say after a replay: every job over, each opened by a recorded
    trigger, each decision on at least the gate's games, a champion."""
    out = []
    open_jobs = [j.job_id for j in st.jobs if j.state in ("queued", "running")]
    out.append(
        f"FAILED: retraining_status: jobs still open {open_jobs}" if open_jobs else "ok: every job over"
    )
    triggers = {t.trigger_id for t in st.triggers}
    orphans = [j.job_id for j in st.jobs if j.trigger_id not in triggers]
    out.append(
        f"FAILED: retraining_status: jobs without their trigger {orphans}"
        if orphans
        else f"ok: {len(st.jobs)} job(s), each with its recorded trigger"
    )
    short = [d.challenger for d in st.decisions if d.decision != "rollback" and d.n_games < gate_min_games]
    out.append(
        f"FAILED: retraining_status: decisions on fewer than {gate_min_games} games {short}"
        if short
        else f"ok: {len(st.decisions)} gate decision(s), each on at least {gate_min_games} games"
    )
    out.append("ok: a champion serves" if "champion" in st.aliases else "FAILED: no champion alias")
    return out


def _drift_row(label: str, d: Any) -> dict[str, Any]:
    tested = [f for f in d.features if f.counted and f.test is not None]
    top = sorted(tested, key=lambda f: (not f.drifted, f.p_value if f.p_value is not None else 1.0))[:5]
    return {
        "window": label,
        "model_version": d.model_version,
        "from": d.window_from,
        "to": d.window_to,
        "n_current": d.n_current,
        "share": d.share,
        "drifted": d.drifted,
        "n_tested": d.n_tested,
        "n_drifted": d.n_drifted,
        "prediction_drifted": bool(d.prediction and d.prediction.drifted),
        "features": [
            {
                "name": f.name,
                "test": f.test,
                "statistic": f.statistic,
                "p_value": f.p_value,
                "drifted": f.drifted,
            }
            for f in top
        ],
    }


def _check_drift(label: str, d: Any) -> list[str]:
    """What drift_report must say: a window of served games, a statistic per tested feature,
    the share consistent with the flags."""
    from nbamcp.monitoring.drift import MIN_ROWS

    tested = [f for f in d.features if f.counted and f.test is not None]
    bad = [f.name for f in tested if f.statistic is None]
    share_ok = d.n_tested == len(tested) and d.n_drifted == sum(f.drifted for f in tested)
    head = f"drift_report ({label}): {d.n_current} games"
    if 0 < d.n_current < MIN_ROWS and not tested:
        first = f"ok: {head}, fewer than {MIN_ROWS}: no feature tested yet"
    elif d.n_current > 0 and tested and not bad:
        first = f"ok: {head}, {len(tested)} features tested"
    else:
        first = f"FAILED: {head}, {len(tested)} tested, no statistic {bad}"
    return [
        first,
        f"ok: drift_report ({label}): share {d.share:.2f} = {d.n_drifted}/{d.n_tested} drifted"
        if share_ok
        else f"FAILED: drift_report ({label}): share {d.share} vs flags {d.n_drifted}/{d.n_tested}",
    ]


def format_report(r: ReplayReport) -> str:
    lines = [
        f"Replay {r.date_from}..{r.date_to}: {r.days} days, {r.games} games in {r.seconds:.1f} s",
        f"Home: {r.seeded}.",
        f"Served Brier overall: {r.brier}",
        "",
        "month     games  Brier   served versions",
    ]
    lines += [f"{m.month}  {m.games:5d}  {m.brier:.4f}  {m.served_versions}" for m in r.months]
    lines.append("")
    lines.append(f"Alerts ({len(r.alerts)}):")
    lines += [f"  {a['raised_at']} {a['severity']} {a['key']}: {a['reason']}" for a in r.alerts]
    lines.append(f"Retrain triggers ({len(r.triggers)}):")
    lines += [
        f"  {t['received_at']} {t['kind']} -> {t['outcome']} {t['job_id']}: {t['reason']}" for t in r.triggers
    ]
    lines.append(f"Jobs ({len(r.jobs)}):")
    lines += [
        f"  {j['job_id']} {j['state']} ({j['kind']}) -> v{j['version']} on {j['n_games']} games"
        for j in r.jobs
    ]
    lines.append(f"Gate decisions ({len(r.decisions)}):")
    lines += [
        f"  v{d['challenger']} vs v{d['champion']} on {d['n_games']} games: log loss "
        f"{d['challenger_log_loss']:.4f} vs {d['champion_log_loss']:.4f}, upper {d['upper']:.4f}, "
        f"p {d['p_value']:.4f}: {d['decision']}"
        for d in r.decisions
    ]
    if r.waiting:
        w = r.waiting
        lines.append(
            f"Gate waiting: v{w['challenger']} vs v{w['champion']}, {w['n_games']} of {w['needed']} games"
        )
    lines.append(f"Promotions ({len(r.promotions)}):")
    lines += [f"  {p['at']} v{p['from_version']} -> v{p['to_version']}: {p['reason']}" for p in r.promotions]
    lines.append(f"Aliases at the end: {r.aliases}")
    lines.append("drift_report at the end:")
    for d in r.drift:
        feats = ", ".join(
            f"{f['name']} {f['test']} {f['statistic']:.3g}" + (" DRIFT" if f["drifted"] else "")
            for f in d["features"]
            if f["statistic"] is not None
        )
        lines.append(
            f"  {d['window']} ({d['from']}..{d['to']}, {d['n_current']} games, v{d['model_version']}): share "
            f"{d['share']:.2f} ({d['n_drifted']}/{d['n_tested']}), prediction drift "
            f"{d['prediction_drifted']}; {feats}"
        )
    lines.append("Checks of the tools' answers:")
    lines += [f"  {c}" for c in r.tool_checks]
    return "\n".join(lines)
