"""Each attempt of a journaled step as plain files, for people and their tools.

`runs/RUN/steps/<node id>/<attempt>/` holds `prompt.md` (the system prompt and
the prompt, written when the attempt starts), `live.log` (what the agent prints
or does, line by line while it runs: `tail -f` it) and, when it ends,
`output.txt`, `outcome.json` and, for a process, `stderr.txt` (an attempt that was
cancelled or killed has no outcome). The node id's segments are directories
(`steps/main/plan/round@2/review/1/`).

The journal stays the record and `steps.log` the run's chronological log; these
files are a copy, so a file that cannot be written never fails a step. They are
written for executors that run real agents (`step_files = True`: command, the
agent CLIs, openai, ray), not for the in-process mock and scripted ones, where
the two file creations per attempt would cost more than the step itself.
"""

from __future__ import annotations

import json
import os

from ..contract import Event, StepOutcome, StepSpec

LINE_KEPT = 100_000  # of one line in live.log (a tool's whole input can be a file)


def step_dir(logs: str, node: str, attempt: int) -> str:
    """The folder of one attempt; no segment of a node id can leave `logs/steps`."""
    parts = [p if p not in ("", ".", "..") else f"_{p}" for p in node.replace("\0", "_")
             .split("/")]
    return os.path.join(logs, "steps", *parts, str(attempt))


class StepFiles:
    """Writes the files of the attempts of one run, on the event loop (a few small
    writes per attempt; an agent's output is written once, when it ends)."""

    def __init__(self, logs: str):
        self.logs = logs
        self.live: dict[tuple[str, int], object] = {}  # open live.log per attempt
        self.broken = False

    def begin(self, step: StepSpec) -> None:
        """The attempt's prompt. A folder left by the same attempt of an earlier process
        of this run (it crashed or was stopped; `resume` counts attempts anew) is
        kept beside it as `<attempt>.interrupted`, not mixed with this one."""
        def write():
            folder = step_dir(self.logs, step.task_id, step.attempt)
            if os.path.isdir(folder):
                os.replace(folder, _unused(folder + ".interrupted"))
            os.makedirs(folder)
            system = f"# system\n\n{step.system}\n\n# prompt\n\n" if step.system else ""
            _write(folder, "prompt.md", system + step.prompt)
        self._safely(write)

    def line(self, event: Event) -> None:
        """An `agent` event: one line of what the running agent printed or did."""
        key = (event.node, event.attempt)

        def write():
            f = self.live.get(key)
            if f is None:
                f = self.live[key] = open(os.path.join(self._folder(*key), "live.log"), "a",
                                          encoding="utf-8", errors="replace")
            f.write(f"{(event.message or '')[:LINE_KEPT]}\n")
            f.flush()
        self._safely(write)

    def stderr(self, event: Event) -> None:
        """A `stderr` event: what the agent's process wrote to stderr, when it ended."""
        self._safely(lambda: _write(self._folder(event.node, event.attempt), "stderr.txt",
                                    event.message or ""))

    def end(self, step: StepSpec, out: StepOutcome) -> None:
        """The attempt's outcome, as the journal has it (after its answer was checked)."""
        f = self.live.pop((step.task_id, step.attempt), None)
        if f is not None:
            f.close()

        def write():
            folder = self._folder(step.task_id, step.attempt)
            _write(folder, "output.txt", out.output if out.success else
                   (out.error or out.output or ""))
            _write(folder, "outcome.json", json.dumps(json.loads(out.to_json()), indent=2,
                                                      ensure_ascii=False))
        self._safely(write)

    def close(self) -> None:
        for f in self.live.values():
            f.close()
        self.live.clear()

    def _folder(self, node: str, attempt: int) -> str:
        folder = step_dir(self.logs, node, attempt)
        os.makedirs(folder, exist_ok=True)
        return folder

    def _safely(self, write) -> None:
        if self.broken:
            return
        try:
            write()
        except (OSError, ValueError):  # a full disk, a read-only folder: the journal has it
            self.broken = True


def _unused(path: str) -> str:
    n, candidate = 1, path
    while os.path.exists(candidate):
        n += 1
        candidate = f"{path}-{n}"
    return candidate


def _write(folder: str, name: str, text: str) -> None:
    with open(os.path.join(folder, name), "w", encoding="utf-8", errors="replace") as f:
        f.write(text)
