"""The `ray` executor: another profile's steps, run on a Ray cluster (SPEC §8).

Only steps travel: orchestration, the journal and budgets stay in the driver.
Steps run in async actors (`StepRunner`), so I/O-bound agent steps share a
worker process instead of holding one each; each agent can ask for its own
resources (CPUs, GPUs, custom). Cancelling a step (timeout, budget, Ctrl-C)
cancels its Ray task, whose cancellation reaches the inner executor (a
command's process group is killed). A lost actor, worker or node comes back
as a transient failure (`finish_reason: lost`) that the runtime retries, on a
fresh actor.

    [executors.cluster]
    type = "ray"
    inner = "claude"              # the profile whose steps run on the cluster
    address = "auto"              # or "ray://head:10001"; absent: a local cluster
    actors = 2                    # actors per resource shape
    concurrency = 64              # steps in flight at once (over all actors)
    num_cpus = 0.25               # per actor, unless the agent says otherwise
    resources = { reviewer = { num_gpus = 1 }, coder = { resources = { sandbox = 1 } } }
"""

from __future__ import annotations

import asyncio
import itertools

from ..contract import StepOutcome, StepSpec
from ..errors import Diagnostic, WlispError
from .config import load_config


def _ray():
    try:
        import ray
    except ImportError:
        raise WlispError(Diagnostic("W0903", "the ray executor needs Ray: "
                                    "pip install 'wlisp[ray]'")) from None
    return ray


def _runner_class(ray):
    @ray.remote
    class StepRunner:
        """Runs steps with the inner executor, many at once (an async actor)."""

        def __init__(self, build, config_path, inner: str):
            # `build` (the profile builder) travels by reference: this runs in a worker
            self.inner = build(load_config(config_path), inner)

        async def run(self, spec_json: str) -> str:
            out = await self.inner.execute_step(StepSpec.from_json(spec_json))
            return out.to_json()

    return StepRunner


class RayExecutor:
    step_files = True  # a journaled run keeps each attempt's files (runtime/stepfiles.py)

    def __init__(self, *, build, config_path: str | None, inner: str, address: str | None = None,
                 actors: int = 2, concurrency: int = 64, num_cpus: float = 0.25,
                 num_gpus: float = 0, resources: dict | None = None, name: str = "ray"):
        ray = self.ray = _ray()
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        self.Runner = _runner_class(ray)
        self.build, self.config_path, self.inner, self.name = build, config_path, inner, name
        self.actors_per_shape = max(1, actors)
        self.concurrency_hint = concurrency
        self.default_shape = {"num_cpus": num_cpus, "num_gpus": num_gpus}
        self.shapes = resources or {}
        self.pools: dict[str, list] = {}
        self.turns = itertools.count()

    @classmethod
    def from_profile(cls, config, name: str, prof: dict, build) -> RayExecutor:
        """`build(config, profile name)` makes the inner executor inside each actor."""
        inner = prof["inner"]
        if inner not in config.profiles and inner not in ("mock",):
            raise WlispError(Diagnostic("W0901", f"ray profile `{name}`: inner profile "
                                        f"`{inner}` is not defined"))
        if config.profiles.get(inner, {}).get("type") == "ray":
            raise WlispError(Diagnostic("W0901", f"ray profile `{name}` cannot wrap another "
                                        "ray profile"))
        return cls(build=build, config_path=config.path, inner=inner, address=prof.get("address"),
                   actors=int(prof.get("actors", 2)), concurrency=int(prof.get("concurrency",
                                                                               64)),
                   num_cpus=float(prof.get("num_cpus", 0.25)),
                   num_gpus=float(prof.get("num_gpus", 0)), resources=prof.get("resources"),
                   name=name)

    def _shape(self, agent: str) -> tuple[str, dict]:
        shape = self.shapes.get(agent)
        if shape is None:
            return "*", self.default_shape
        return agent, {**self.default_shape, **shape}

    def _options(self, agent: str) -> dict:
        shape = self._shape(agent)[1]
        opts = {"max_concurrency": max(1, self.concurrency_hint // self.actors_per_shape),
                "num_cpus": shape.get("num_cpus", 0), "num_gpus": shape.get("num_gpus", 0)}
        if shape.get("resources"):
            opts["resources"] = dict(shape["resources"])
        return opts

    def _pool(self, agent: str) -> list:
        key = self._shape(agent)[0]
        pool = self.pools.get(key)
        if pool is None:
            pool = self.pools[key] = [self._new_actor(agent)
                                      for _ in range(self.actors_per_shape)]
        return pool

    def _new_actor(self, agent: str):
        return self.Runner.options(**self._options(agent)).remote(self.build, self.config_path,
                                                                  self.inner)

    async def execute_step(self, spec: StepSpec, events=None) -> StepOutcome:
        ray = self.ray
        pool = self._pool(spec.agent)
        slot = next(self.turns) % len(pool)
        ref = pool[slot].run.remote(spec.to_json())
        try:
            text = await ref
        except asyncio.CancelledError:
            ray.cancel(ref)  # reaches the inner executor as a cancellation
            raise
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError,
                ray.exceptions.ActorUnavailableError) as exc:
            self._replace(spec.agent, slot)
            return StepOutcome.failed(spec.task_id, spec.agent, f"lost on the Ray cluster: "
                                      f"{type(exc).__name__}", "lost")
        except ray.exceptions.TaskCancelledError:
            return StepOutcome.failed(spec.task_id, spec.agent, "cancelled on the cluster")
        except ray.exceptions.RayTaskError as exc:
            return StepOutcome.failed(spec.task_id, spec.agent,
                                      f"step raised on the cluster: {exc.cause!r}")
        return StepOutcome.from_json(text)

    def _replace(self, agent: str, slot: int) -> None:
        """A lost actor is replaced; the runtime retries the step on the new one."""
        pool = self.pools.get(self._shape(agent)[0])
        if pool is not None:
            pool[slot] = self._new_actor(agent)
