# SPDX-License-Identifier: Apache-2.0
"""RQ side of scripts/bench/queue.sh: N no-op jobs, enqueued in batches
(Queue.enqueue_many, one pipeline per batch), then drained by one
SimpleWorker in burst mode (no fork per job). Prints two JSON lines.

    /usr/bin/python3 rq_bench.py PORT N BATCH      (run with this folder on PYTHONPATH)
"""
import json
import sys
import time

from redis import Redis
from rq import Queue, SimpleWorker

import rq_tasks


def main():
    port, n, batch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    redis = Redis(host="127.0.0.1", port=port)
    queue = Queue("levqor-bench", connection=redis)
    queue.empty()
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        queue.enqueue_many([Queue.prepare_data(rq_tasks.noop, args=(i,))
                            for i in range(start, min(n, start + batch))])
    t1 = time.perf_counter()
    print(json.dumps({"system": "rq", "phase": "enqueue", "jobs": n, "seconds": t1 - t0}), flush=True)
    worker = SimpleWorker([queue], connection=redis)
    t2 = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    t3 = time.perf_counter()
    finished = queue.finished_job_registry.count
    print(json.dumps({"system": "rq", "phase": "process", "jobs": n, "seconds": t3 - t2,
                      "succeeded": finished}), flush=True)


if __name__ == "__main__":
    main()
