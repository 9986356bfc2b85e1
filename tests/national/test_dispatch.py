"""`dispatch.run_tasks` on a real 2-worker LocalCluster: a long task of the caller holds one
worker; the phase's tasks run on the other, one at a time and in the order given, never queued
behind the long one, then on both once it ends."""

from __future__ import annotations

import time

from affectation.national.dispatch import Task, run_tasks
from affectation.national.runner import Cluster, _client


def _sleep(seconds: float) -> tuple[float, float]:
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


def test_tasks_run_one_per_free_thread_in_order_beside_a_busy_future() -> None:
    with _client(Cluster(workers=2)) as client:
        busy = client.submit(_sleep, 1.5, key="long", pure=False)
        while not any("long" in keys for keys in client.processing().values()):
            time.sleep(0.02)
        tasks = [Task(f"t{k}", _sleep, 0.4, 10 - k) for k in range(8)]
        seen = [(task.key, future.result()) for task, future in run_tasks(client, tasks,
                                                                          [busy])]
        long_start, long_end = busy.result()
    spans = dict(seen)
    starts = sorted(spans, key=lambda key: spans[key][0])
    assert starts == [f"t{k}" for k in range(8)]  # the order given
    # Never queued behind the long task: the first starts while it runs.
    assert spans["t0"][0] < long_end
    # While it runs, one at a time (one thread free).
    during = sorted(span for span in spans.values() if span[0] < long_end - 0.05)
    assert len(during) >= 2
    assert all(later[0] >= earlier[1] - 0.05
               for earlier, later in zip(during, during[1:], strict=False))
    # Once it has ended, both threads: two tasks overlap.
    after = sorted(span for span in spans.values() if span[0] >= long_end - 0.05)
    assert any(later[0] < earlier[1] - 0.1
               for earlier, later in zip(after, after[1:], strict=False))
