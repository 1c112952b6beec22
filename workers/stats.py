"""The stats worker: answers ``nba.stats.<query>`` from the SQLite store.

Owns one store connection (reads, and the writes of ``ingest``). Queue group
``stats``: on NATS several instances share the load. On first start with an
empty store it ingests ``NBAMCP_DATA_DIR`` (``stats.auto_ingest``), so that the
one-command quick start answers questions straight away.

Before an ingest's games are announced, the anomaly screen (``nbamcp.dataplane.screen``,
``[anomalies]``) judges them: flagged ones are held in the store (``held_games``) with their
reason, out of the dataset and the events, and raise an alert (``anomaly.<rule>``) until an
admin accepts them (``nba.stats.accept_games``). The first start's ingest of the data folder is
the history itself: its latest ``[anomalies] first_ingest_days`` are screened against the games
before them.

It is the only worker that opens the store: the others get the games from it, as
the games dataset in the data bucket (every season whole, replayed by each worker
on start) and as ``GamesIngested`` events with the new rows on the durable stream
(``nbamcp.dataplane.announce``), after every ingest that changed games, on start
and every ``[data] reconcile_s``. Serving fs2 (``[features] served``) it publishes the
rosters dataset the same way, before the games (``nbamcp.dataplane.roster_announce``:
the roster model's strengths from the player tables and the ``rosters`` table, where
``nbamcp ingest --live-rosters`` writes live rosters and trades): on start, after every
ingest, and every ``reconcile_s`` (so a roster fetched by the CLI reaches the workers).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Route, WorkerContext
from nbamcp.actor.routes import Handler
from nbamcp.alerting import Alerter
from nbamcp.data import queries as q
from nbamcp.data.answers import AnswerCache
from nbamcp.data.charts import render_rating_chart
from nbamcp.data.held import accept, held_games
from nbamcp.data.ingest.paths import IngestRoots
from nbamcp.data.ingest.runner import IngestProgress, ingest_paths
from nbamcp.data.store import Store, open_store
from nbamcp.dataplane import data_bucket
from nbamcp.dataplane.announce import Announcer
from nbamcp.dataplane.roster_announce import RosterAnnouncer
from nbamcp.dataplane.screen import Screened, screen_ingest
from nbamcp.errors import BusClosed, InvalidInput, NbaError, NotFound, Unavailable
from nbamcp.messages import (
    AcceptedGames,
    AcceptGamesRequest,
    ComparePlayersRequest,
    CompleteRequest,
    CoverageRequest,
    FindPlayerRequest,
    GamesRequest,
    HeadToHeadRequest,
    HeldGames,
    HeldGamesRequest,
    IngestReply,
    IngestReport,
    IngestRequest,
    IngestStep,
    LeagueLeadersRequest,
    PlayerCareerRequest,
    PlayerSeasonStatsRequest,
    QualityReportRequest,
    ScheduleRequest,
    StandingsRequest,
    TeamRatingHistoryReply,
    TeamRatingHistoryRequest,
    TeamSeasonRequest,
    TeamsRequest,
    encode,
)
from nbamcp.messages.alerts import Severity
from nbamcp.ml.ratings import RATING_METHOD, rating_series

log = structlog.get_logger(__name__)

ELO_RATINGS = q.RatingMethod(rating_series, RATING_METHOD)

ID_LIST_CAP = 100
CHARTS_KEPT = 64  # rating charts kept per version of the data (~6 KB each)
# Held results that come in numbers (a feed gone wrong, not one odd game) are critical.
BURST_RULES = frozenset({"mass_upsets", "team_day", "date_burst"})


def ingest_reply(report: IngestReport) -> IngestReply:
    """The report with its game-id lists cut: a full-history ingest adds ~73k games."""
    cap = ID_LIST_CAP
    files = [msgspec.structs.replace(f, new_game_ids=f.new_game_ids[:cap]) for f in report.files]
    short = msgspec.structs.replace(report, files=files, new_game_ids=report.new_game_ids[:cap])
    return IngestReply(report=short, new_games=len(report.new_game_ids))


class StatsWorker(Actor):
    name = "stats"

    def __init__(self, ctx: WorkerContext, *, today: Callable[[], dt.date] = dt.date.today) -> None:
        super().__init__(ctx)
        self._today = today
        config = ctx.config
        self.store_path = config.store_path
        self.data_dir = config.data_dir
        roots = [
            ("paths.data_dir (NBAMCP_DATA_DIR)", config.data_dir),
            ("paths.home (NBAMCP_HOME)", config.home),
            *((f"stats.ingest_roots[{i}]", Path(p)) for i, p in enumerate(config.stats.ingest_roots)),
        ]
        self.ingest_roots = IngestRoots(roots, max_bytes=config.stats.max_file_mb << 20)
        self._store: Store | None = None
        # Why the store is empty, when the data folder is the reason: said in every error
        # that an empty store causes, not only in the log.
        self._data_problem = ""
        settings = config.stats
        self.answers = AnswerCache(settings.answer_cache_entries, int(settings.answer_cache_mb * 2**20))
        self.alerter = Alerter(ctx.events, source=self.name, dedupe_window_s=config.alerts.dedupe_window_s)
        self.held = 0  # results held by the anomaly screen since start
        self.rosters: RosterAnnouncer | None = None  # serving fs2 only
        # (since, folder) while the first start ingests the data folder: health says so.
        self._ingesting: tuple[float, str] | None = None
        self._ingest_at: tuple[float, str] = (0.0, "")  # the ingestion's last step: fraction, file

    @property
    def store(self) -> Store:
        if self._store is None:
            raise Unavailable("the stats store is not open")
        return self._store

    def _explained(self, handler: Handler) -> Handler:
        """``handler``, whose 'no data' errors say why the store is empty when the data folder is why."""

        async def run(request: Any, ctx: Context) -> msgspec.Struct | None:
            try:
                return await handler(request, ctx)
            except (Unavailable, NotFound) as exc:
                if not self._data_problem:
                    raise
                raise Unavailable(
                    f"{exc.message}; the store is empty because {self._data_problem}: set it to the "
                    "folder with the NBA data and restart, or ingest files with ingest_games"
                ) from None

        return run

    def _generation(self) -> int:
        return self.store.generation

    def _kept(self, handler: Handler) -> Handler:
        """``handler`` answering from the answer cache: the same question on the same data."""

        async def run(request: Any, ctx: Context) -> msgspec.Struct | None:
            key = ctx.subject.encode() + b"\0" + encode(request)
            return await self.answers.answer(self._generation, key, lambda: handler(request, ctx))

        return run

    async def on_start(self) -> None:
        self._store = await self.enter(await open_store(self.store_path))
        row = await self._store.fetchone("SELECT count(*) FROM games")
        if row and row[0] == 0 and self.config.stats.auto_ingest:
            if self.data_dir.is_dir():
                self._ingesting = (time.monotonic(), str(self.data_dir))
                try:
                    report = await ingest_paths(self._store, [self.data_dir], progress=self._ingest_step)
                finally:
                    self._ingesting = None
                # Held before the first announcement below: the other workers never see them.
                screened = await screen_ingest(self._store, report, self.config.anomalies, first=True)
                await self._alert_holds(screened, f"{self.name}-auto-ingest")
                log.info(
                    "stats.auto_ingest", data_dir=str(self.data_dir), summary=report.summary,
                    held=len(screened.holds),
                )  # fmt: skip
                if not report.files:
                    self._data_problem = "NBAMCP_DATA_DIR (paths.data_dir) holds no NBA data files"
            else:
                self._data_problem = "NBAMCP_DATA_DIR (paths.data_dir) names a folder that does not exist"
            if self._data_problem:
                log.warning("stats.no_data", data_dir=str(self.data_dir), problem=self._data_problem)
        # The other workers get the games from here only: the dataset, then the news as events.
        kv = await self.ctx.stores.kv(data_bucket(self.config))
        self.announcer = Announcer(self._store, kv, self.ctx.events)
        self.rosters = RosterAnnouncer(self._store, kv) if self.config.features.served == "fs2" else None
        await self._announce_rosters(full=True)  # first: the games' features are computed with them
        await self.announcer.announce(request_id=f"{self.name}-start", full=True)
        self.spawn(self._keep_reconciling(), name="reconcile")
        await self._publish_coverage()

    async def _keep_reconciling(self) -> None:
        # A server that lost its state (or a bucket someone removed) gets the whole history again.
        while True:
            await asyncio.sleep(self.config.data.reconcile_s)
            try:
                await self._announce_rosters(full=True)
                await self.announcer.announce(request_id=f"{self.name}-reconcile", full=True)
            except NbaError as exc:  # the server is away: next round
                log.warning("stats.reconcile_failed", code=exc.code, error=exc.message)

    async def on_recovered(self) -> None:
        # NATS came back, perhaps without its store: the dataset again now, not at the next round.
        await self._announce_rosters(full=True)
        await self.announcer.announce(request_id=f"{self.name}-recovered", full=True)

    async def _announce_rosters(self, *, full: bool = False) -> None:
        if self.rosters is None:
            return
        try:
            await self.rosters.announce(full=full)
        except BusClosed:
            raise
        except NbaError as exc:  # the bucket's server is away, bad rows: the next round tries again
            log.warning("stats.rosters_announce_failed", full=full, code=exc.code, error=exc.message)
        except Exception:  # boundary: a roster model that fails to build must not stop games or stats
            log.exception("stats.rosters_announce_crashed", full=full)

    async def _ingest_step(self, fraction: float, message: str) -> None:
        self._ingest_at = (fraction, message)

    def starting_note(self) -> str:
        if self._ingesting is None:
            return ""
        since, folder = self._ingesting
        fraction, message = self._ingest_at
        done = f", {fraction:.0%} done: {message}" if message else ""
        return (
            f"ingesting {folder} (first start, usually 30-60 s): {time.monotonic() - since:.0f}s so far{done}"
        )

    def health_detail(self) -> dict[str, str]:
        detail = {"store": str(self.store_path), "held": str(self.held), **self.answers.stats()}
        announcer = getattr(self, "announcer", None)
        if announcer is not None:
            detail |= {
                "announced": str(announcer.announced),
                "partitions_written": str(announcer.partitions_written),
            }
        if self.rosters is not None:
            detail["roster_seasons_written"] = str(self.rosters.seasons_written)
        return detail

    def routes(self) -> list[Route]:
        return [
            Route(ep.FIND_PLAYER, self._explained(self._kept(self.find_player))),
            Route(ep.PLAYER_SEASON_STATS, self._explained(self._kept(self.player_season_stats))),
            Route(ep.PLAYER_CAREER, self._explained(self._kept(self.player_career))),
            Route(ep.COMPARE_PLAYERS, self._explained(self._kept(self.compare_players))),
            Route(ep.TEAM_SEASON, self._explained(self._kept(self.team_season))),
            Route(ep.STANDINGS, self._explained(self._kept(self.standings))),
            Route(ep.GAMES, self._explained(self._kept(self.games))),
            Route(ep.HEAD_TO_HEAD, self._explained(self._kept(self.head_to_head))),
            Route(ep.LEAGUE_LEADERS, self._explained(self._kept(self.league_leaders))),
            Route(ep.TEAM_RATING_HISTORY, self._explained(self._kept(self.team_rating_history))),
            Route(ep.TEAMS, self._explained(self.teams)),
            Route(ep.QUALITY_REPORT, self._explained(self.quality_report)),
            Route(ep.INGEST, self._explained(self.ingest)),
            Route(ep.COVERAGE, self._explained(self.coverage)),
            Route(ep.COMPLETE, self._explained(self.complete)),
            Route(ep.HELD_GAMES, self.held_games),
            Route(ep.ACCEPT_GAMES, self.accept_games),
            Route(ep.SCHEDULE, self._explained(self.schedule)),
        ]

    # ---- handlers: thin adapters from request Structs to the query layer ----
    async def find_player(self, r: FindPlayerRequest, ctx: Context) -> msgspec.Struct:
        return await q.find_player(self.store, r.query, r.limit)

    async def player_season_stats(self, r: PlayerSeasonStatsRequest, ctx: Context) -> msgspec.Struct:
        return await q.player_season_stats(self.store, r.player, r.season, r.season_type, r.per)

    async def player_career(self, r: PlayerCareerRequest, ctx: Context) -> msgspec.Struct:
        return await q.player_career(self.store, r.player, r.season_type)

    async def compare_players(self, r: ComparePlayersRequest, ctx: Context) -> msgspec.Struct:
        return await q.compare_players(self.store, r.players, r.season, r.stats)

    async def team_season(self, r: TeamSeasonRequest, ctx: Context) -> msgspec.Struct:
        return await q.team_season(self.store, r.team, r.season)

    async def standings(self, r: StandingsRequest, ctx: Context) -> msgspec.Struct:
        return await q.standings(self.store, r.season, r.conference)

    async def games(self, r: GamesRequest, ctx: Context) -> msgspec.Struct:
        return await q.games(
            self.store, r.team, r.opponent, r.season, r.date_from, r.date_to, r.season_type, r.limit
        )

    async def head_to_head(self, r: HeadToHeadRequest, ctx: Context) -> msgspec.Struct:
        return await q.head_to_head(self.store, r.team_a, r.team_b, r.season_from, r.season_to)

    async def league_leaders(self, r: LeagueLeadersRequest, ctx: Context) -> msgspec.Struct:
        return await q.league_leaders(self.store, r.stat, r.season, r.season_type, r.per, r.limit)

    async def team_rating_history(self, r: TeamRatingHistoryRequest, ctx: Context) -> msgspec.Struct:
        history = await q.team_rating_history(
            self.store, r.team, r.season_from, r.season_to, rating=ELO_RATINGS
        )
        png = None
        if r.chart:
            title = f"{history.name}: rating {history.season_from}-{history.season_to}"

            async def draw() -> bytes:
                # ~3 ms of drawing (Pillow): cheaper inline than a hop to a thread and back.
                return render_rating_chart(history.points, title)

            # The same range on the same data is the same picture: drawn once per version of it.
            key = (history.team, history.season_from, history.season_to, history.method)
            png = await self.store.kept("rating_charts", key, draw, max_entries=CHARTS_KEPT)
        return TeamRatingHistoryReply(history=history, png=png)

    async def teams(self, r: TeamsRequest, ctx: Context) -> msgspec.Struct:
        return q.list_franchises(r.season)

    async def quality_report(self, r: QualityReportRequest, ctx: Context) -> msgspec.Struct:
        return await q.latest_quality_report(self.store)

    async def ingest(self, r: IngestRequest, ctx: Context) -> msgspec.Struct:
        if not r.paths:
            raise InvalidInput("ingest needs at least one path (a file or a directory)")
        # Walking a folder and resolving links stats every file: off the event loop.
        files, refused = await asyncio.to_thread(self.ingest_roots.collect, r.paths)
        progress = self._progress(r.progress_token, ctx.request_id) if r.progress_token else None
        async with self.announcer.lock:  # no announcement between the write and the holds
            report = await ingest_paths(self.store, files, fmt=r.format, skipped=refused, progress=progress)
            screened = await screen_ingest(self.store, report, self.config.anomalies)
        await self._alert_holds(screened, ctx.request_id)
        await self._announce_rosters()  # new player tables (a no-op when the rows are the same)
        if report.new_game_ids or report.updated:
            await self.announcer.announce(request_id=ctx.request_id)
        if report.inserted:
            self._data_problem = ""
        await self._publish_coverage()
        return ingest_reply(report)

    def _progress(self, token: str, request_id: str) -> IngestProgress:
        """Each file's progress as events for the caller (the ingest_games tool relays them)."""
        subject = ep.INGEST_PROGRESS.at(token).subject

        async def publish(fraction: float, message: str) -> None:
            try:
                await self.bus.publish(subject, encode(IngestStep(fraction=fraction, message=message)))
            except NbaError as exc:  # progress is a courtesy: never fail an ingest for it
                log.warning("stats.progress_failed", request_id=request_id, error=exc.message)

        return publish

    async def _alert_holds(self, screened: Screened, request_id: str) -> None:
        """One alert per rule that held games (the dedupe window makes a week of them one alert)."""
        if not screened.holds:
            return
        self.held += len(screened.holds)
        by_rule: dict[str, list[str]] = {}
        for f in screened.findings:
            by_rule.setdefault(f.rule, []).append(f.game_id)
        for rule, ids in sorted(by_rule.items()):
            first = next(f for f in screened.findings if f.rule == rule)
            severity: Severity = (
                "critical" if rule in ("mass_upsets", "team_day", "date_burst") else "warning"
            )
            await self.alerter.alert(
                f"anomaly.{rule}", severity,
                f"{len(ids)} ingested result(s) held ({rule}), out of features and training until "
                f"accept_games; first: {first.reason}",
                numbers={"held": len(ids), **first.numbers}, subjects=ids, request_id=request_id,
            )  # fmt: skip

    async def held_games(self, r: HeldGamesRequest, ctx: Context) -> msgspec.Struct:
        games, total = await held_games(self.store, r.limit)
        return HeldGames(games=games, total=total)

    async def accept_games(self, r: AcceptGamesRequest, ctx: Context) -> msgspec.Struct:
        async with self.announcer.lock:
            accepted, not_held = await accept(self.store, r.game_ids, r.actor or "admin")
        log.info("stats.accepted", accepted=len(accepted), not_held=len(not_held), actor=r.actor)
        announced = await self.announcer.announce(request_id=ctx.request_id) if accepted else 0
        return AcceptedGames(accepted=accepted, not_held=not_held, announced=announced)

    async def schedule(self, r: ScheduleRequest, ctx: Context) -> msgspec.Struct:
        return await q.schedule(self.store, r.date, r.team, r.days, r.limit, today=self._today())

    async def coverage(self, r: CoverageRequest, ctx: Context) -> msgspec.Struct:
        return await q.coverage(self.store)

    async def complete(self, r: CompleteRequest, ctx: Context) -> msgspec.Struct:
        if r.kind == "team":
            return q.complete_team(r.prefix, r.limit)
        return await q.complete_player(self.store, r.prefix, r.limit)

    async def _publish_coverage(self) -> None:
        """Tell the front ends what the store holds now (their instructions quote it)."""
        cov = await q.coverage(self.store)
        await self.bus.publish(ep.COVERAGE_CHANGED.subject, encode(cov))
