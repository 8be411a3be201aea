"""The ray executor against a real local Ray cluster (`ray start --head`, started once).

Run with `-m ray` to select them; CI runs them with the rest.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

ray = pytest.importorskip("ray")

from wlisp.executors.config import load_config  # noqa: E402
from wlisp.executors.profiles import make_executor  # noqa: E402
from wlisp.lang.api import compile  # noqa: E402
from wlisp.runtime import run  # noqa: E402

from .conftest import wlisp_bin  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]
FAKE = os.path.join(os.path.dirname(__file__), "fixtures", "fake_agent.py")
RAY = os.path.join(os.path.dirname(sys.executable), "ray")


@pytest.fixture(scope="module")
def cluster():
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run([RAY, "start", "--head", "--num-cpus=2", "--include-dashboard=false",
                    "--disable-usage-stats"], check=True, capture_output=True, env=env)
    try:
        os.environ["RAY_ADDRESS"] = "auto"
        yield
    finally:
        if ray.is_initialized():
            ray.shutdown()
        os.environ.pop("RAY_ADDRESS", None)
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=env)


def config(tmp_path, inner_argv, extra="", timeout=""):
    path = tmp_path / "wlisp.toml"
    path.write_text(f"""
[executors.agent]
type = "command"
argv = {json.dumps(inner_argv)}
{timeout}

[executors.cluster]
type = "ray"
inner = "agent"
address = "auto"
actors = 2
concurrency = 16
num_cpus = 0
{extra}

[agents]
default = "cluster"
""")
    return str(path)


def test_fanout_runs_on_the_cluster_in_order_across_actors(cluster, tmp_path):
    ex = make_executor(config=load_config(config(tmp_path, [sys.executable, FAKE, "pid"])))
    spec = compile('(defagent w) (defworkflow main [] (map (fn [i] (spawn w (fmt "{i}"))) '
                   '(range 12)))')
    res = run(spec, ex, {})
    assert res.status == "completed"
    assert [v["task_id"] for v in res.value] == [f"main/map[{i}]/w" for i in range(12)]
    pids = {int(v["output"]) for v in res.value}
    assert len(pids) == 2 and os.getpid() not in pids  # two actors, not the driver


def test_cancelling_a_hanging_step_kills_it_on_the_cluster(cluster, tmp_path):
    pidfile = tmp_path / "child.pid"
    ex = make_executor(config=load_config(config(tmp_path, [sys.executable, FAKE, "hang",
                                                            str(pidfile)])))
    # the two actors answer a warm-up step each first, so the timeout measures the
    # hanging step, not the start of a Ray worker on a loaded machine; 6 s leave a slow
    # machine time to start the agent and its child before the step is cancelled
    spec = compile('(defagent w) (defworkflow main [] [(spawn w "warm") (spawn w "warm")] '
                   '(spawn w "x" :timeout 6 :retries 0))')
    t0 = time.monotonic()
    res = run(spec, ex, {})
    assert res.nodes["main/w"]["status"] == "completed"  # the warm-ups answered
    assert res.status == "failed" and "timed out" in res.nodes["main/w#3"]["error"]
    assert time.monotonic() - t0 < 40
    assert pidfile.exists()  # the agent ran and started its child before the timeout
    for _ in range(150):  # the agent and its child (both carry the pid file's path) go
        if not _processes_with(str(pidfile)):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the step's processes survived: {_processes_with(str(pidfile))}")


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode("utf-8", "replace")
            with open(f"/proc/{entry}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if marker in cmdline and not zombie:
            found.append(int(entry))
    return found


def test_a_traced_step_on_the_cluster_runs_under_its_attempt_span(cluster, tmp_path):
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    ex = make_executor(config=load_config(config(tmp_path, [sys.executable, FAKE,
                                                            "traceparent"])))
    spec = compile('(defagent w) (defworkflow main [] (spawn w "x"))')
    res = run(spec, ex, {}, tracer=provider.get_tracer("test"))
    assert res.status == "completed"
    (attempt,) = [s for s in exported.get_finished_spans() if s.name == "invoke_agent w"]
    _, trace_id, span_id, _ = res.value["output"].strip().split("-")
    assert (int(trace_id, 16), int(span_id, 16)) == (attempt.context.trace_id,
                                                      attempt.context.span_id)


def test_a_worker_killed_mid_step_is_retried(cluster, tmp_path):
    marker = tmp_path / "died"
    ex = make_executor(config=load_config(config(tmp_path, [sys.executable, FAKE, "die-once",
                                                            str(marker)])))
    spec = compile('(defagent w) (defworkflow main [] (spawn w "x" :retries 2))')
    res = run(spec, ex, {}, retry_base=0.1)
    assert marker.exists()
    assert res.status == "completed" and res.value["output"].strip() == "survived"
    assert res.nodes["main/w"]["attempts"] == 2


def test_resume_after_the_driver_is_killed(cluster, tmp_path):
    record = tmp_path / "executed.log"
    cfg = config(tmp_path, [sys.executable, FAKE, "record", str(record), "0.3"])
    src = tmp_path / "w.wl"
    src.write_text('(defagent w)\n(defworkflow main [] '
                   '(map (fn [i] (spawn w (fmt "{i}"))) (range 16) :limit 4))\n')
    state = tmp_path / "state"
    driver = subprocess.Popen([wlisp_bin(), "run", str(src), "--config", cfg, "--state-dir",
                               str(state), "--run-id", "r", "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if record.exists() and len(record.read_text().split()) >= 6:
            break
        time.sleep(0.1)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    import sqlite3

    db = sqlite3.connect(state / "wlisp.db")
    done = {n for (n,) in db.execute("SELECT node FROM steps WHERE status='completed'")}
    db.close()
    assert 0 < len(done) < 16
    time.sleep(1)  # let the cluster finish or drop the orphaned steps
    before = len(record.read_text().split())
    res = subprocess.run([wlisp_bin(), "resume", "r", "--state-dir", str(state), "--json",
                          "-q"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "completed" and out["reused"] == len(done)
    rerun = set(record.read_text().split()[before:])
    assert not (rerun & done), "a journaled step ran again"


def test_ray_profile_errors_are_clear(tmp_path):
    path = tmp_path / "wlisp.toml"
    path.write_text('[executors.c]\ntype = "ray"\n')
    from wlisp.errors import WlispError

    with pytest.raises(WlispError, match="inner"):
        load_config(str(path))
    assert shutil.which(RAY) or os.path.exists(RAY)
