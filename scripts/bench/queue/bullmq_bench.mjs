// SPDX-License-Identifier: Apache-2.0
// BullMQ side of scripts/bench/queue.sh: N no-op jobs added with addBulk in
// batches, then processed by one Worker with concurrency 16 (BullMQ's
// defaults otherwise: completed jobs are kept). Prints two JSON lines.
//
//   NODE_PATH=<dir>/node_modules node bullmq_bench.mjs PORT N BATCH
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(process.env.NODE_PATH + '/');
const { Queue, Worker } = require('bullmq');

const [port, n, batch] = process.argv.slice(2).map(Number);
const connection = { host: '127.0.0.1', port };
const queue = new Queue('levqor-bench', { connection });
await queue.obliterate({ force: true });

const t0 = performance.now();
for (let start = 0; start < n; start += batch) {
  const jobs = [];
  for (let i = start; i < Math.min(n, start + batch); i++) jobs.push({ name: 'noop', data: { i } });
  await queue.addBulk(jobs);
}
const t1 = performance.now();
console.log(JSON.stringify({ system: 'bullmq', phase: 'enqueue', jobs: n, seconds: (t1 - t0) / 1000 }));

let done = 0;
let finish;
const all = new Promise((resolve) => { finish = resolve; });
const worker = new Worker('levqor-bench', async (job) => job.data.i,
                          { connection, concurrency: 16, autorun: false });
worker.on('completed', () => { if (++done === n) finish(); });
worker.on('failed', () => { if (++done === n) finish(); });
const t2 = performance.now();
worker.run();
await all;
const t3 = performance.now();
const counts = await queue.getJobCounts('completed', 'failed');
console.log(JSON.stringify({ system: 'bullmq', phase: 'process', jobs: n, seconds: (t3 - t2) / 1000,
                             succeeded: counts.completed }));
await worker.close();
await queue.close();
