"""Stats tools: validate against the request Struct, ask the stats worker, shape the answer.

Each tool's input is the stats worker's own request Struct (bounds, choices, descriptions
in ``nbamcp.messages``); the worker checks the rest (names, seasons against the data) and
says which ones exist.
"""

from __future__ import annotations

import base64
from typing import Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ContentBlock, ImageContent

from nbamcp import endpoints as ep
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.ingest_progress import ingest_with_progress
from nbamcp.frontend.texts import count, num
from nbamcp.frontend.tooling import ToolSpec, admin, tool_result
from nbamcp.messages import (
    ComparePlayersRequest,
    FindPlayerRequest,
    GameList,
    GamesRequest,
    HeadToHead,
    HeadToHeadRequest,
    IngestReply,
    IngestRequest,
    Leaders,
    LeagueLeadersRequest,
    PlayerCareer,
    PlayerCareerRequest,
    PlayerComparison,
    PlayerSearch,
    PlayerSeasonStats,
    PlayerSeasonStatsRequest,
    RatingHistory,
    Standings,
    StandingsRequest,
    StatLine,
    TeamRatingHistoryRequest,
    TeamSeason,
    TeamSeasonRequest,
)
from nbamcp.messages.fields import STAT_ALIASES, STAT_NAMES, canonical_stat

INGEST_TIMEOUT_S = 300.0


def _line(s: StatLine) -> str:
    def f(v: float | None, nd: int = 1) -> str:
        return "-" if v is None else f"{v:.{nd}f}"

    pct = f"FG {f(s.fg_pct, 3)} 3P {f(s.fg3_pct, 3)} FT {f(s.ft_pct, 3)}"
    if s.per == "total":
        return f"{s.gp or 0} gp, {num(s.pts)} pts, {num(s.reb)} reb, {num(s.ast)} ast, {pct}"
    return f"{s.gp or 0} gp, {f(s.pts)} pts, {f(s.reb)} reb, {f(s.ast)} ast, {pct}"


def team_season_text(r: TeamSeason) -> str:
    head = f"{r.name} {r.season_label}: {r.wins}-{r.losses}"
    if r.home is not None and r.away is not None:
        head += f" (home {r.home.wins}-{r.home.losses}, away {r.away.wins}-{r.away.losses})"
    if r.pts_for is not None and r.pts_against is not None and r.avg_margin is not None:
        head += f", {r.pts_for:.1f} for / {r.pts_against:.1f} against, margin {r.avg_margin:+.1f}"
    if r.ratings is not None and r.ratings.srs is not None:
        head += f", SRS {r.ratings.srs:+.2f}"
    lines = [f"{head}. Playoffs: {r.playoffs.result}."]
    lines += [f"Note: {n}." for n in r.notes]
    return "\n".join(lines)


def _stat_aliases(args: dict[str, Any]) -> dict[str, Any]:
    out = dict(args)
    if "stat" in out:
        out["stat"] = canonical_stat(out["stat"])
    if isinstance(out.get("stats"), list):
        out["stats"] = [canonical_stat(s) for s in out["stats"]]
    return out


def _stat_enum(node: Any) -> Any:
    """A parameter's schema with the stat aliases people type added to every stat-name enum."""
    if isinstance(node, list):
        return [_stat_enum(x) for x in node]
    if not isinstance(node, dict):
        return node
    if set(node.get("enum", ())) == set(STAT_NAMES):
        return {**node, "enum": [*node["enum"], *sorted(STAT_ALIASES)]}
    return {k: _stat_enum(v) for k, v in node.items()}


def stats_tools(gw: Gateway) -> list[ToolSpec]:
    async def find_player(req: FindPlayerRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.FIND_PLAYER, req)
        lines = [
            f"- {m.name}{' (HOF)' if m.hall_of_fame else ''} [{m.player_id}] {m.first_season}-{m.last_season}"
            for m in r.matches
        ]
        return tool_result(
            r, f"{count(len(r.matches), 'match', 'matches')} for {req.query!r}:\n" + "\n".join(lines)
        )

    async def player_season_stats(req: PlayerSeasonStatsRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.PLAYER_SEASON_STATS, req)
        text = [f"{r.name} {r.season_label} {r.season_type} ({r.per}): {_line(r.total)}"]
        text += [f"  {t.team_name or t.team}: {_line(t)}" for t in r.teams]
        return tool_result(r, "\n".join(text))

    async def player_career(req: PlayerCareerRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.PLAYER_CAREER, req)
        text = (
            f"{r.name} career ({r.season_type}, {count(len(r.seasons), 'season')}): {_line(r.per_game)}. "
            f"{r.coverage}"
        )
        return tool_result(r, text)

    async def compare_players(req: ComparePlayersRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.COMPARE_PLAYERS, req)
        rows = [
            f"- {p.name} ({p.label}): " + ", ".join(f"{k} {num(v)}" for k, v in p.values.items())
            for p in r.players
        ]
        return tool_result(r, "\n".join([*rows, *(f"Note: {n}." for n in r.notes)]))

    async def team_season(req: TeamSeasonRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.TEAM_SEASON, req)
        return tool_result(r, team_season_text(r))

    async def standings(req: StandingsRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.STANDINGS, req)
        through = f"through {r.through}" if r.through else "Basketball-Reference's team-season table"
        out = [f"Standings {r.season_label} ({through})"]
        for g in r.groups:
            out.append(f"{g.name}:")
            out += [
                f"  {row.rank}. {row.name} {row.wins}-{row.losses} GB {num(row.games_behind)}"
                for row in g.rows
            ]
        out += [f"Note: {n}." for n in r.notes]
        return tool_result(r, "\n".join(out))

    async def games(req: GamesRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.GAMES, req)
        rows = [f"{g.date} {g.away_name} {g.away_pts} @ {g.home_name} {g.home_pts}" for g in r.games]
        head = f"{count(r.total, 'game')}, showing {len(r.games)} ({r.order})"
        note = [f"Note: {r.note}."] if r.note else []
        return tool_result(r, "\n".join([f"{head}:", *rows, *note]))

    async def head_to_head(req: HeadToHeadRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.HEAD_TO_HEAD, req)
        text = (
            f"{r.team_a_name} vs {r.team_b_name}, {r.season_from}-{r.season_to}: {r.a_wins}-{r.b_wins} "
            f"in {count(r.games, 'game')} (playoffs {r.playoffs.wins}-{r.playoffs.losses}, "
            f"{count(len(r.playoff_series), 'series', 'series')})."
        )
        return tool_result(r, text + (f" Note: {r.note}." if r.note else ""))

    async def league_leaders(req: LeagueLeadersRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.LEAGUE_LEADERS, req)
        rows = [f"{x.rank}. {x.name} ({x.team}) {num(x.value)}" for x in r.leaders]
        return tool_result(r, f"{r.stat} leaders {r.season_label} ({r.qualification}):\n" + "\n".join(rows))

    async def team_rating_history(req: TeamRatingHistoryRequest, ctx: Context) -> CallToolResult:
        r = await gw.call(ep.TEAM_RATING_HISTORY, req)
        h = r.history
        seasons = ", ".join(f"{s.season}: {s.end:.0f}" for s in h.seasons)
        extra: list[ContentBlock] = []
        if r.png:
            extra.append(
                ImageContent(type="image", data=base64.b64encode(r.png).decode(), mime_type="image/png")
            )
        shown = f" Points: {len(h.points)} of {h.games} games, thinned to what a chart shows."
        text = f"{h.name} rating at season end ({h.method}): {seasons}."
        return tool_result(h, text + (shown if len(h.points) < h.games else ""), extra)

    async def ingest_games(req: IngestRequest, ctx: Context) -> CallToolResult:
        r = await ingest_with_progress(gw, req, ctx, INGEST_TIMEOUT_S)
        return tool_result(r, r.report.summary)

    return [
        ToolSpec(
            name="find_player",
            title="Find a player",
            description="Find players by name: case- and accent-insensitive, partial and misspelled names "
            "welcome ('jokic', 'lebron jmaes'). Lists each match with his Basketball-Reference id and the "
            "seasons he played.",
            input=ep.FIND_PLAYER.request,
            output=PlayerSearch,
            run=find_player,
        ),
        ToolSpec(
            name="player_season_stats",
            title="A player's season",
            description="A player's season (his latest when no season is given): per game, totals or per "
            "36 minutes, shooting, advanced stats and RAPTOR. A traded player gets the season total and "
            "each team's part, labelled.",
            input=ep.PLAYER_SEASON_STATS.request,
            output=PlayerSeasonStats,
            run=player_season_stats,
        ),
        ToolSpec(
            name="player_career",
            title="A player's career",
            description="A player's career season by season (traded seasons counted once), with career "
            "totals and per-game averages, and which of his seasons the data holds.",
            input=ep.PLAYER_CAREER.request,
            output=PlayerCareer,
            run=player_career,
        ),
        ToolSpec(
            name="compare_players",
            title="Compare players",
            description="Compare 2-5 players side by side, for one season (per game) or their careers "
            "(regular-season averages), with the best value of each stat marked.",
            input=ep.COMPARE_PLAYERS.request,
            output=PlayerComparison,
            run=compare_players,
            prepare=_stat_aliases,
            schema_overrides={"stats": _stat_enum},
        ),
        ToolSpec(
            name="team_season",
            title="A team's season",
            description="A team's season: record, home/away, points for and against, margin, and its "
            "playoff run.",
            input=ep.TEAM_SEASON.request,
            output=TeamSeason,
            run=team_season,
        ),
        ToolSpec(
            name="standings",
            title="League standings",
            description="League standings for a season, by conference (and division) from 1990, "
            "league-wide before.",
            input=ep.STANDINGS.request,
            output=Standings,
            run=standings,
        ),
        ToolSpec(
            name="games",
            title="Games and scores",
            description="Games with their scores, newest first, filtered by team, opponent, season, "
            "dates and type; 'total' counts every match.",
            input=ep.GAMES.request,
            output=GameList,
            run=games,
        ),
        ToolSpec(
            name="head_to_head",
            title="Head to head",
            description="Two franchises' record against each other over all their eras, playoff series "
            "included, with their ten latest meetings.",
            input=ep.HEAD_TO_HEAD.request,
            output=HeadToHead,
            run=head_to_head,
        ),
        ToolSpec(
            name="league_leaders",
            title="League leaders",
            description="League leaders in a stat for a season, with the qualifying minimum stated "
            "(the NBA's rules, scaled for short seasons).",
            input=ep.LEAGUE_LEADERS.request,
            output=Leaders,
            run=league_leaders,
            prepare=_stat_aliases,
            schema_overrides={"stat": _stat_enum},
        ),
        ToolSpec(
            name="team_rating_history",
            title="Team rating history",
            description="A team's rating (the project's Elo) over a range of seasons: every season summed "
            "up, the points after its games thinned to what a chart shows (at most 180, peaks and troughs "
            "kept), and a PNG chart.",
            input=ep.TEAM_RATING_HISTORY.request,
            output=RatingHistory,
            run=team_rating_history,
        ),
        ToolSpec(
            name="ingest_games",
            title="Ingest data files (admin)",
            description="Admin: ingest result and stat files or folders (538 games, nba_api game logs, "
            "Basketball-Reference player and team tables) from the data folder, the server's home or "
            "stats.ingest_roots. Idempotent: a file ingested before changes nothing. Announces new games "
            "to the other workers and writes a data-quality report.",
            input=ep.INGEST.request,
            output=IngestReply,
            run=ingest_games,
            annotations=admin(idempotent=True),
            deadline_s=INGEST_TIMEOUT_S + 30,
            hidden=frozenset({"progress_token"}),
        ),
    ]
