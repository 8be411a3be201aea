"""wlisp as a peer of the benchmarks in shared/peers/ (asyncio baseline, LangGraph, DBOS).

Same CLI and the same one JSON line on stdout as the peer scripts, so it runs in the same
interleaved pass as the asyncio baseline (see runtime_bench.py):

    python benchmarks/peer_wlisp.py <W1|W2|W3|W5> [--n N] [--latency S] [--conc C] [--variant V]

The fake agent is the peers' own `common.step(i, latency)` (`await asyncio.sleep(latency);
return f"out-{i}"`), called from a wlisp executor. Each workload is compiled once, outside
the timed region; `wall_s` covers only `await wlisp.run_async(...)` (in memory, store=None).

- W1/W2: a runtime `map` node over `(range n)` whose body spawns one step per item.
  W2 bounds it with `run_async(..., concurrency=C)`; `--variant limit` uses `(map ... :limit C)`
  instead.
- W3: `(reduce (fn [prev i] (spawn w (fmt "{i} {prev}"))) nil (range n))`: n spawn nodes,
  each reading the previous one (checked on the compiled graph).
- W5: `(loop [x nil] :max n (spawn w "step"))`.
- `--variant traced` (any workload): the run is traced with OpenTelemetry's SDK
  (`BatchSpanProcessor`, an exporter that drops the spans): what tracing costs per step
  in wlisp and the SDK, not in a network.

W4 (journaled) is not built yet: it reports an error line.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_DIR = Path(os.environ.get("WLISP_PEERS_DIR") or ROOT.parent / "shared" / "peers")
PEER = "wlisp"


def load_peer_common():
    """The peers' common.py (CLI, fake step, reporting), loaded under its own name so it
    never collides with benchmarks/common.py."""
    path = PEERS_DIR / "common.py"
    if not path.exists():
        sys.exit(f"peer_wlisp: {path} not found (set WLISP_PEERS_DIR to shared/peers)")
    spec = importlib.util.spec_from_file_location("peers_common", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["peers_common"] = mod
    spec.loader.exec_module(mod)
    return mod


common = load_peer_common()

FANOUT = """(defagent w)
(defworkflow main [n] (map (fn [i] (spawn w (fmt "{i}"))) (range n)))"""
FANOUT_LIMIT = """(defagent w)
(defworkflow main [n] (map (fn [i] (spawn w (fmt "{i}"))) (range n) :limit %d))"""
CHAIN = """(defagent w)
(defworkflow main [] (reduce (fn [prev i] (spawn w (fmt "{i} {prev}"))) nil (range %d)))"""
LOOP = """(defagent w)
(defworkflow main [] (loop [x nil] :max %d (spawn w "step")))"""


def index_from_prompt(spec) -> int:
    """W1/W2: the prompt is "{i}"; W3: "{i} {prev}"."""
    return int(spec.prompt.partition(" ")[0])


def index_from_loop_id(spec) -> int:
    """W5: the task id is main/loop@k/w for iteration k = 1..n."""
    return int(spec.task_id.rpartition("@")[2].partition("/")[0]) - 1


class BenchExecutor:
    """The executor seam around the peers' fake agent step."""

    concurrency_hint = 100_000

    def __init__(self, latency: float, index, step, outcome_cls):
        self.latency = latency
        self.index = index
        self.step = step
        self.outcome = outcome_cls

    async def execute_step(self, spec, events=None):
        out = await self.step(self.index(spec), self.latency)
        return self.outcome(task_id=spec.task_id, agent=spec.agent, output=out, success=True)


def build(args, wlisp):
    """(spec, inputs, run_async kwargs, index function) for the workload."""
    w, n = args.workload, args.n
    if w in ("W1", "W2"):
        if args.variant == "limit" and args.conc:
            spec = wlisp.compile(FANOUT_LIMIT % args.conc)
            kw = {}
        else:
            spec = wlisp.compile(FANOUT)
            kw = {"concurrency": args.conc} if args.conc else {}
        return spec, {"n": n}, kw, index_from_prompt
    if w == "W3":
        spec = wlisp.compile(CHAIN % n)
        check_chain(spec, n)
        return spec, {}, {}, index_from_prompt
    if w == "W5":
        return wlisp.compile(LOOP % n), {}, {}, index_from_loop_id
    raise SystemExit(f"peer_wlisp: workload {w} is not built yet (journaled runs)")


def check_chain(spec, n: int) -> None:
    """W3 must be n spawn nodes, node k reading node k-1 and nothing else."""
    nodes = spec.graph.nodes
    if len(nodes) != n or any(x.kind != "spawn" for x in nodes):
        raise SystemExit(f"peer_wlisp: W3 compiled to {len(nodes)} nodes, expected {n} spawns")
    for k, node in enumerate(nodes):
        refs: set = set()
        json_refs(node.to_json(), refs)
        want = {nodes[k - 1].id} if k else set()
        if refs != want or node.after:
            raise SystemExit(f"peer_wlisp: W3 is not a chain: `{node.id}` reads {sorted(refs)}")


def json_refs(e, out: set) -> None:
    """Node ids referenced ({"ref": id}) anywhere in a node's JSON form."""
    if isinstance(e, dict):
        if isinstance(e.get("ref"), str):
            out.add(e["ref"])
        for v in e.values():
            json_refs(v, out)
    elif isinstance(e, list):
        for v in e:
            json_refs(v, out)


def outputs(args, value):
    """The outputs in the form the peers' check expects."""
    if args.workload in ("W1", "W2"):
        return [o["output"] if isinstance(o, dict) else o for o in value or []]
    return value["output"] if isinstance(value, dict) else value


def dropping_tracer():
    """(tracer, provider): the SDK's tracer with batching and an exporter that drops."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Drop(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    return provider.get_tracer("bench"), provider


async def main() -> None:
    args = common.parse_args()
    if args.workload == "W4":
        print(json.dumps({"peer": PEER, "workload": "W4", "error": "not built yet"}), flush=True)
        sys.exit(2)
    t_setup = time.perf_counter()  # wlisp loads its modules lazily: setup = imports + compile
    import wlisp
    import wlisp.runtime.scheduler  # noqa: F401 - run_async imports it lazily; keep that
    # one-time import (about 40 ms) out of the timed region, like the peers' imports

    spec, inputs, kw, index = build(args, wlisp)
    provider = None
    if args.variant == "traced":
        kw["tracer"], provider = dropping_tracer()
    executor = BenchExecutor(args.latency, index, common.step, wlisp.StepOutcome)
    setup = time.perf_counter() - t_setup
    t0 = time.perf_counter()
    result = await wlisp.run_async(spec, executor, inputs, **kw)
    wall = time.perf_counter() - t0
    if provider is not None:
        provider.shutdown()  # the spans left in the batch: not timed, as an exporter would
    extra = {"setup_s": round(setup, 6), "status": result.status,
             "executed_steps": common.EXECUTED}
    if result.status != "completed":
        extra["error"] = result.error
    common.report(PEER, args, wall, outputs(args, result.value), **extra)


if __name__ == "__main__":
    asyncio.run(main())
