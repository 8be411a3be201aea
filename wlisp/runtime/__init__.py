"""The runtime: runs a WorkflowSpec against an executor (SPEC §6–§7), journaling
every finished step (§9). The names users need, re-exported from their modules."""

from ..contract import Event, EventList, EventSink, StepOutcome, StepSpec, TransientError
from .cancel import SYSTEM_CLOCK, VirtualClock
from .run import RunResult, resume, resume_async, run, run_async
from .state import RunOptions

__all__ = ["run", "run_async", "resume", "resume_async", "RunResult", "RunOptions",
           "StepSpec", "StepOutcome", "TransientError", "Event", "EventList", "EventSink",
           "SYSTEM_CLOCK", "VirtualClock"]
