"""Tournaments: pairwise judging of entrants (SPEC §4).

Single elimination pairs entrants in order (0,1), (2,3), ...; an odd one out
gets a bye and moves to the end of the next round; winners keep match order.
Round robin judges every pair once; most wins wins, ties go to the lower index.
The matches of a round run concurrently.
"""

from __future__ import annotations

import asyncio

from ..values import builtins as B
from .expr import info_key, var_key


def judge_winner(value) -> str | None:
    structured = getattr(value, "structured", None)
    if isinstance(structured, dict) and structured.get("winner") in ("a", "b"):
        return structured["winner"]
    if B.is_outcome(value):
        word = value.output.strip().strip("\"'`.!* ").lower()
        return word if word in ("a", "b") else None
    return None


async def run_tournament(sched, np, scope, inst, rec):
    node = np.node
    entrants = np.expr("entrants")(scope)
    try:
        entrants = list(B.as_seq(entrants))
    except B.BuiltinError as exc:
        return "failed", None, f"tournament entrants: {exc}"
    if len(entrants) < 2:
        return "failed", None, f"a tournament needs at least 2 entrants, got {len(entrants)}"
    params = node.judge.params or ["a", "b"]
    keys = [var_key(node.id, p) for p in params]

    async def match(rnd: int, m: int, i: int, j: int):
        values = {keys[0]: entrants[i], keys[1]: entrants[j]}
        res = await sched.run_graph(node.judge, scope.child(values), node.id,
                                    f"{inst}/match[{rnd}.{m}]")
        if not res.ok:
            return _MatchFailed(f"match {rnd}.{m} (entrant {i} vs {j}): {res.error}")
        pick = judge_winner(res.value)
        if pick is None:
            return _MatchFailed(f"the judge of match {rnd}.{m} (entrant {i} vs {j}) answered "
                                "neither `a` nor `b`")
        return i if pick == "a" else j

    rounds: list[list[dict]] = []
    try:
        if node.format == "round-robin":
            pairs = [(i, j) for i in range(len(entrants)) for j in range(i + 1, len(entrants))]
            winners = await _play(match, 1, pairs)
            rounds.append([{"a": i, "b": j, "winner": w} for (i, j), w in zip(pairs, winners,
                                                                              strict=True)])
            wins = [0] * len(entrants)
            for w in winners:
                wins[w] += 1
            best = max(range(len(entrants)), key=lambda k: (wins[k], -k))
        else:
            alive, rnd = list(range(len(entrants))), 0
            while len(alive) > 1:
                rnd += 1
                pairs = [(alive[k], alive[k + 1]) for k in range(0, len(alive) - 1, 2)]
                winners = await _play(match, rnd, pairs)
                rounds.append([{"a": i, "b": j, "winner": w} for (i, j), w in zip(
                    pairs, winners, strict=True)])
                bye = [alive[-1]] if len(alive) % 2 else []
                alive = winners + bye
            best = alive[0]
    except _MatchFailed as exc:
        return "failed", None, str(exc)
    info = {"format": node.format or "single-elim", "rounds": rounds, "winner": best}
    scope.values[info_key(node.id)] = info
    rec.data["winner"] = best
    return "completed", entrants[best], None


async def _play(match, rnd, pairs):
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(match(rnd, m + 1, i, j)) for m, (i, j) in enumerate(pairs)]
    results = [t.result() for t in tasks]
    failed = next((r for r in results if isinstance(r, _MatchFailed)), None)
    if failed is not None:
        raise failed
    return results


class _MatchFailed(Exception):
    pass
