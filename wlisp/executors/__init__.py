"""Executors: where agent steps actually run (SPEC §6, §8). See `profiles` for routing."""

from .profiles import Router, build_profile, executor_label, make_executor

__all__ = ["Router", "build_profile", "executor_label", "make_executor"]
