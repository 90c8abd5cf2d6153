// Runs writeCheckpoint() in a worker thread, so folding the journal into switchboard.json (a full
// JSON.stringify of the state) never stalls the event loop that answers requests.
import { Worker } from 'node:worker_threads';

export interface CheckpointResult {
  group: number;
  messages: number;
}

export function runCheckpointWorker(dir: string, upTo: number, fsync: boolean): Promise<CheckpointResult> {
  return new Promise((resolve, reject) => {
    // The worker runs TypeScript: a small .mjs registers tsx in the worker, then imports the entry.
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
      workerData: { entry: new URL('./checkpoint.worker.ts', import.meta.url).href, dir, upTo, fsync },
    });
    let settled = false;
    worker.once(
      'message',
      (msg: { ok: true; result: CheckpointResult } | { ok: false; error: string; code?: string }) => {
        settled = true;
        if (msg.ok) resolve(msg.result);
        else reject(Object.assign(new Error(msg.error), msg.code ? { code: msg.code } : {}));
      },
    );
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`checkpoint worker exited with code ${code}`));
    });
  });
}
