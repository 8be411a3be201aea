"""Budgets (SPEC §7): steps, tokens, cost and wall-clock time a run may use.

Steps, tokens and cost are counted as steps start and finish; going over raises
`BudgetExhausted` where it happens, which ends the run `budget_exhausted`
(resumable with `wlisp resume RUN --budget ...`). The wall-clock budget is the
run scope's deadline (`runtime/cancel.py`).
"""

from __future__ import annotations

import math

from ..errors import usage_error
from ..ir.vocabulary import BUDGET_KEYS
from .cancel import BudgetExhausted


class Budget:
    def __init__(self, limits: dict | None, used: tuple[int, int, float] = (0, 0, 0.0)):
        limits = limits or {}
        self.steps = limits.get("steps")
        self.tokens = limits.get("tokens")
        self.cost = limits.get("cost")
        self.wall = limits.get("wall")
        self.used_steps, self.used_tokens, self.used_cost = used

    def take_step(self) -> None:
        if self.steps is not None and self.used_steps >= self.steps:
            raise BudgetExhausted(f"step budget of {self.steps} used up")
        self.used_steps += 1

    def add_usage(self, usage: dict | None) -> None:
        if not usage:
            return
        self.used_tokens += int(usage.get("input_tokens") or 0) + \
            int(usage.get("output_tokens") or 0)
        self.used_cost += float(usage.get("cost") or 0.0)
        if self.tokens is not None and self.used_tokens > self.tokens:
            raise BudgetExhausted(f"token budget of {self.tokens} exceeded "
                                  f"({self.used_tokens} used)")
        if self.cost is not None and self.used_cost > self.cost:
            raise BudgetExhausted(f"cost budget of {self.cost} exceeded "
                                  f"({self.used_cost:.4f} used)")

    def used(self) -> dict:
        return {"steps": self.used_steps, "tokens": self.used_tokens, "cost": self.used_cost}


def parse_budget(pairs) -> dict:
    """`steps=N,cost=USD` (several items per string, several strings) -> limits."""
    out = {}
    for pair in pairs:
        for item in pair.split(","):
            key, sep, value = item.partition("=")
            if key not in BUDGET_KEYS or not sep:
                raise usage_error("--budget takes steps=N, tokens=N, cost=USD or "
                                  f"wall=SECONDS, got `{item}`")
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            counted = key in ("steps", "tokens")
            if not math.isfinite(number) or number <= 0 or counted and not number.is_integer():
                raise usage_error(f"--budget {key} needs {'a whole number' if counted else 'a number'}"
                                  f" > 0, got `{value}`")
            out[key] = int(number) if counted else number
    return out
