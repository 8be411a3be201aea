"""The small vocabularies of the format, one table each: every stage that checks,
offers or reads these values imports them from here."""

from __future__ import annotations

# agent roles and their defaults (isolation, context), after the workflow-template seed
ROLES = {"explore": ("read-only", "system-only"), "plan": ("shared", "full"),
         "implement": ("worktree", "full"), "verify": ("read-only", "none"),
         "custom": ("shared", "none")}
ISOLATION = ("shared", "read-only", "worktree", "remote")
WRITE_ISOLATION = frozenset({"shared", "worktree", "remote"})  # not for quarantined agents
CONTEXT = ("none", "system-only", "full")
TRUST = ("trusted", "quarantined")
TOURNAMENT_FORMATS = ("single-elim", "round-robin")
BUDGET_KEYS = ("steps", "tokens", "cost", "wall")
