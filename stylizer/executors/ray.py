"""The Ray executor: one actor per GPU (or per CPU worker), each loading the network and the styles once.

Workers need nothing but Ray: the weights and the style images travel once through Ray's object store, each
task carries its segment's frames, and each result carries the frames made. The driver keeps the work
directory and is its only writer, so no filesystem is shared and a killed driver resumes from it.

Tasks go out in plan order, a few per actor, and come back in completion order. A worker process that dies
is restarted by Ray and its task retried (``RETRIES``); a task whose retries run out comes back as failed
frames (the unstylised content stands in and is listed), which the next run makes again.

    --executor ray                       RAY_ADDRESS set: join that cluster; else start a local Ray
    --workers N                          actors; default: one per GPU, else one per node (all its CPUs)
"""

from __future__ import annotations

import logging
import os
from typing import Iterable, Iterator

import numpy as np

from stylizer.errors import StylizerError, UsageError
from stylizer.executors import Task
from stylizer.segment import FrameOutcome, run_segment

RETRIES = 2
QUEUED_PER_WORKER = 2  # one running, one waiting: an actor never idles between tasks


class SegmentWorker:
    """Lives in a Ray worker process for the whole run; made a Ray actor class in RayExecutor."""

    def __init__(self, settings, threads: int | None, device: str):
        from stylizer import compute

        compute.configure_device(device, threads=threads)
        self.settings = settings
        self.stylizer = None

    def pid(self) -> int:
        return os.getpid()

    def run(self, spec, frames, shared: list) -> list[FrameOutcome]:
        if self.stylizer is None:
            import ray

            from stylizer.engine import Stylizer

            # ``shared``: object-store references to the styles and the weights, fetched once per process
            # (a list, so that Ray passes the references and not the values with every task).
            styles, params = ray.get(shared)
            self.stylizer = Stylizer(self.settings, styles, params)
        return list(run_segment(spec, frames, self.stylizer, self.settings))


def _connect(ray) -> bool:
    """Join RAY_ADDRESS's cluster, or start a local one; True when this process started it."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a local run never phones home
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    address = os.environ.get("RAY_ADDRESS")
    try:
        if address:
            ray.init(address=address, **quiet)
            return False
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, **quiet)
        return True
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise UsageError(f"--executor ray: cannot start or join {where}: {str(exc).splitlines()[0]}") from None


class RayExecutor:
    def __init__(self, settings, styles, workers: int | None = None):
        try:
            import ray
        except ImportError:
            raise UsageError("--executor ray needs Ray: pip install 'stylizer[ray]'") from None
        from stylizer import weights

        self.ray = ray
        self.notes: list[str] = []
        params = weights.load_weights(settings.weights)  # on the driver: workers download nothing
        self._started = _connect(ray)
        gpus = 0 if settings.device == "cpu" else int(ray.cluster_resources().get("GPU", 0))
        if gpus:
            count = workers or gpus
            options = {"num_gpus": 1, "num_cpus": 1}
            threads = None
        else:
            nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU")]
            total = int(sum(n["Resources"]["CPU"] for n in nodes)) or 1
            count = workers or max(1, len(nodes))
            threads = max(1, total // count) if workers else max(1, int(min(n["Resources"]["CPU"] for n in nodes)))
            # A CPU worker must not see a GPU it was not given.
            options = {"num_cpus": threads, "runtime_env": {"env_vars": {"CUDA_VISIBLE_DEVICES": ""}}}
        actor = ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)(SegmentWorker)
        self._shared = [ray.put(styles), ray.put(params)]  # held here for as long as actors may restart
        device = "gpu" if gpus else "cpu"
        self.actors = [actor.options(**options).remote(settings, threads, device) for _ in range(count)]
        self.workers = count

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, FrameOutcome]]:
        ray = self.ray
        tasks = iter(tasks)
        load = {i: 0 for i in range(len(self.actors))}
        in_flight: dict = {}  # ref -> (task, frames, actor index)
        exhausted = False
        while True:
            while not exhausted and len(in_flight) < QUEUED_PER_WORKER * len(self.actors):
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                frames = list(task.frames)
                index = min(load, key=load.get)
                load[index] += 1
                in_flight[self.actors[index].run.remote(task.spec, frames, self._shared)] = (task, frames, index)
            if not in_flight:
                return
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            task, frames, index = in_flight.pop(ref)
            load[index] -= 1
            try:
                outcomes = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, StylizerError):
                    raise cause from None  # a user error in the worker (e.g. the size does not fit) is the run's
                raise
            except ray.exceptions.RayActorError as exc:
                reason = f"Ray worker lost after {RETRIES} retries ({type(exc).__name__})"
                self.notes.append(f"{task.spec.name}: {reason}")
                outcomes = [FrameOutcome(j, np.asarray(content), failed=reason)
                            for j, content in frames if j in task.spec.pending]
            for outcome in outcomes:
                yield task, outcome

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
        if self._started:
            self.ray.shutdown()
