"""Running a phase's tasks on Dask: in the order given (the largest first), one per free thread.

Dask assigns a task without dependencies to a worker as soon as it is submitted, busy or not,
and moves it later only by work stealing, which needs task durations it does not know yet.
Submitting a whole phase at once therefore queues blocks behind a long task: at scale 1 the
worker that finished the national bound stayed idle 48 s while the blocks waited in the other
worker's queue. Here the driver keeps at most one task per free worker thread in flight and
submits the next (the largest left) when one finishes: a list scheduling, longest first, that
any cluster size runs the same way. Which worker runs which task never changes a result
(results are used in block order), only when it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Task:
    """One task: `fn(spec)` under `key`, `priority` also given to Dask (larger first)."""

    key: str
    fn: Callable[[Any], Any]
    spec: Any
    priority: int = 0


def run_tasks(client: Any, tasks: Sequence[Task], busy: Sequence[Any] = ()
              ) -> Iterator[tuple[Task, Any]]:
    """Submit `tasks` in order, never more at once than the cluster's threads not taken by the
    futures of `busy` (tasks of the caller still running, e.g. the national bound); yield
    each (task, future) as it finishes (completion order; the future may hold an error)."""
    from distributed import as_completed

    waiting = list(tasks)
    others = [f for f in busy if not f.done()]
    finished = as_completed(others)
    mine: dict[Any, Task] = {}  # submitted, not yet finished

    def fill() -> None:
        threads = sum(client.nthreads().values())
        others_running = sum(1 for f in others if not f.done())
        # At least one in flight: a cluster whose workers have not joined yet still starts.
        while waiting and (len(mine) + others_running < threads or not mine):
            task = waiting.pop(0)
            future = client.submit(task.fn, task.spec, key=task.key, pure=False,
                                   priority=task.priority)
            mine[future] = task
            finished.add(future)

    fill()
    for future in finished:
        task = mine.pop(future, None)  # None: one of `busy` ended, its thread is free
        fill()
        if task is not None:
            yield task, future
