// The checkpoint worker: folds journal segments [checkpoint.next, upTo) into switchboard.json with
// the same replay code as start-up, and reports back. It only reads closed segments and writes the
// checkpoint atomically; the main thread deletes the folded segments afterwards.
import { parentPort, workerData } from 'node:worker_threads';
import { writeCheckpoint } from './checkpoint.ts';
import { nodeFileSystem } from './files.ts';

const { dir, upTo, fsync } = workerData as { dir: string; upTo: number; fsync: boolean };
try {
  const result = await writeCheckpoint(nodeFileSystem({ fsync }), dir, upTo);
  parentPort?.postMessage({ ok: true, result });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  parentPort?.postMessage({
    ok: false,
    error: e?.message ?? String(err),
    ...(e?.code ? { code: e.code } : {}),
  });
}
