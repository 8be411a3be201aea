"""Run events: what happened to which node, when, at what cost.

The scheduler emits them to an `EventSink`; the CLI's progress display and the
journal consume them. Building an event costs something, so the scheduler skips
it entirely when no sink is attached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class Event:
    kind: str               # run_started run_finished started finished failed skipped
                            # pruned retried cancelled paused
    node: str = ""          # instance id ("main/fix/loop@2/critic")
    node_kind: str = ""
    agent: str | None = None
    time: float = 0.0       # seconds since the run started
    elapsed: float | None = None
    attempt: int | None = None
    usage: dict | None = None
    message: str | None = None
    span: list | None = None
    data: dict = field(default_factory=dict)


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class EventList:
    """A sink that keeps every event (tests, the Python API)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self, node: str | None = None) -> list[str]:
        return [e.kind for e in self.events if node is None or e.node == node]


class Fanout:
    """Send each event to several sinks."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def emit(self, event: Event) -> None:
        for s in self.sinks:
            s.emit(event)
