"""The promotion gate on the bus: the challenger's realized games decide, once.

The inference worker scores the challenger in shadow beside the champion and logs both
predictions; the monitor joins them with results. The gate asks the monitor
(``nba.monitor.paired``) for the per-game log losses of both versions on the same realized
games, and once there are ``[retrain] gate_min_games`` of them runs the paired test of
``nbamcp.ml.gate`` ONCE for this (challenger, champion) pair: a significant win moves
``champion`` to the challenger (the audit trail's reason carries the test's numbers, and
``nba.models.changed`` tells the serving workers); otherwise the champion stays. Either
way the decision and its numbers are recorded (``retraining_status``).

In canary traffic (``[inference] traffic = "canary"``: the challenger answers a share of the
games) the watch looks too: once ``canary_rollback_min_games`` paired games show the
challenger significantly worse (the same test, the other way round), or the gate keeps the
champion, ``challenger`` is rolled back onto the champion's version (audit: the numbers), and
the serving workers stop serving it.

In ab traffic (``traffic = "ab"``: the challenger answers ``ab_share`` of the games) every look
also compares the two arms on their realized games (``nbamcp.ml.ab``: each arm's served log
loss, the other model on the same games, Welch's and the paired t-test), kept as ``ab`` for
``retraining_status``, before and after the gate's decision; the gate decides as in shadow
(promote or keep) and nothing is rolled back automatically.

It looks after every change of the games and every ``gate_check_s``; one look at a time.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import structlog

from nbamcp import endpoints as ep
from nbamcp.calls import call
from nbamcp.errors import NbaError
from nbamcp.messages import ABComparison, GateDecision, GateWaiting, PairedLossesRequest
from nbamcp.ml.ab import compare_arms
from nbamcp.ml.gate import decide
from workers.trainer.book import RetrainBook, now

if TYPE_CHECKING:
    from workers.trainer.worker import TrainerWorker

log = structlog.get_logger(__name__)

ACTOR = "trainer promotion gate"
CANARY_ACTOR = "trainer canary watch"


class GateKeeper:
    def __init__(self, trainer: TrainerWorker, book: RetrainBook) -> None:
        self.trainer = trainer
        self.book = book
        self.settings = trainer.config.retrain
        self.model = trainer.config.trainer.model_name
        self.waiting: GateWaiting | None = None
        self.ab: ABComparison | None = None  # traffic "ab": the latest comparison of the arms
        self.checks = 0
        self._lock = asyncio.Lock()
        self._poked = asyncio.Event()
        self.made = 0  # decisions made by this process
        self.decided = asyncio.Condition()  # notified after each (tests and the replay await it)
        self.looked = asyncio.Condition()  # notified after each look (``checks`` counts them)

    async def poke(self) -> None:
        """Look soon (new results may have reached the monitor)."""
        self._poked.set()

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except NbaError as exc:
                log.warning("trainer.gate_check_failed", code=exc.code, error=exc.message)
            self._poked.clear()
            try:
                async with asyncio.timeout(self.settings.gate_check_s):
                    await self._poked.wait()
            except TimeoutError:
                pass

    async def check(self) -> GateDecision | None:
        """One look: the decision made now, if any."""
        async with self._lock:
            try:
                return await self._check()
            finally:
                async with self.looked:
                    self.checks += 1
                    self.looked.notify_all()
                self.trainer.moved()

    async def _check(self) -> GateDecision | None:
        registry = self.trainer.registry
        name = self.model
        if name not in await registry.names():
            return None
        aliases = await registry.aliases(name)
        challenger, champion = aliases.get("challenger"), aliases.get("champion")
        if challenger is None or champion is None or challenger == champion:
            self.waiting = None
            return None
        traffic = self.trainer.config.inference.traffic
        decided = await self.book.decided(name, challenger, champion)
        if decided and traffic != "ab":
            self.waiting = None
            return None
        s = self.settings
        rid = f"gate-{uuid.uuid4().hex[:12]}"
        paired = await call(
            self.trainer.bus,
            ep.MONITOR_PAIRED,
            PairedLossesRequest(model_name=name, version_a=challenger, version_b=champion),
            timeout_s=self.trainer.config.bus.request_timeout_s,
            request_id=rid,
        )
        games = paired.games
        if traffic == "ab":
            share = self.trainer.config.inference.ab_share
            self.ab = compare_arms(
                games, challenger=challenger, champion=champion, share=share, checked_at=now()
            )
        if decided:
            self.waiting = None
            return None
        canary = traffic == "canary"
        self.waiting = GateWaiting(
            challenger=challenger, champion=champion, n_games=len(games), needed=s.gate_min_games,
            checked_at=now(),
        )  # fmt: skip
        if len(games) >= s.gate_min_games:
            min_games = s.gate_min_games  # the gate's one decision
        elif canary and len(games) >= s.canary_rollback_min_games:
            min_games = s.canary_rollback_min_games  # the canary watch: looks after every change
        else:
            return None
        outcome = await asyncio.to_thread(
            decide,
            [g.loss_a for g in games],
            [g.loss_b for g in games],
            [g.date for g in games],
            min_games=min_games,
            alpha=s.gate_alpha,
            replicates=s.gate_replicates,
            seed=challenger,  # reproducible, and not the same draws for every challenger
            names=(f"challenger v{challenger}", f"champion v{champion}"),
        )
        if outcome is None:
            return None
        if outcome.promote and len(games) >= s.gate_min_games:
            kind = "promote"
        elif outcome.worse and canary:
            kind = "rollback"
        elif len(games) >= s.gate_min_games:
            kind = "rollback" if canary else "keep"  # a canary ends with the gate's decision
        else:
            return None  # the canary goes on
        if await registry.aliases(name) != aliases:
            return None  # an alias moved while the test ran: look again at what serves now
        decision = GateDecision(
            model_name=name,
            challenger=challenger,
            champion=champion,
            n_games=outcome.n_games,
            n_dates=outcome.n_dates,
            challenger_log_loss=outcome.challenger_log_loss,
            champion_log_loss=outcome.champion_log_loss,
            mean_diff=outcome.mean_diff,
            upper=outcome.upper,
            lower=outcome.lower,
            alpha=outcome.alpha,
            replicates=outcome.replicates,
            seed=outcome.seed,
            t_stat=outcome.t_stat,
            p_value=outcome.p_value,
            decision=kind,
            reason=outcome.reason,
            at=now(),
        )
        door = self.trainer.door
        if kind == "promote":
            mv = await registry.get(name, challenger)
            await door.publish_artifact(mv)
            change = await registry.set_alias(
                name, "champion", challenger, actor=ACTOR, reason=f"gate: {outcome.reason}"[:500]
            )
            await door.announce(name, "champion", challenger, change.from_version, rid)
        elif kind == "rollback":
            # The challenger alias back on the champion: the inference workers serve no challenger.
            why = (
                f"canary rollback, worse by {outcome.mean_diff:+.4f} log loss a game (one-sided lower bound "
                f"{outcome.lower:+.4f} > 0): {outcome.reason}"
                if outcome.worse
                else f"canary ended without a significant win: {outcome.reason}"
            )
            change = await registry.set_alias(
                name, "challenger", champion, actor=CANARY_ACTOR, reason=why[:500]
            )
            await door.announce(name, "challenger", champion, change.from_version, rid)
        await self.book.add_decision(decision)
        self.waiting = None
        async with self.decided:
            self.made += 1
            self.decided.notify_all()
        log.info(
            "trainer.gate_decided", challenger=challenger, champion=champion, decision=decision.decision,
            n_games=decision.n_games, mean_diff=decision.mean_diff, upper=decision.upper,
            p_value=decision.p_value, reason=decision.reason,
        )  # fmt: skip
        return decision
