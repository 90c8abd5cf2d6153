// Child processes for benchmarks: a server started with tsx whose URL is read from its log, its
// resident memory read from /proc, and a load generator (autocannon) with a latency prober beside it.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export interface Server {
  child: ChildProcess;
  url: string;
  /** Everything it printed so far. */
  output(): string;
  /** ms from spawn to the "listening" line. */
  startMs: number;
  /** Kills it (SIGKILL unless told; SIGTERM lets it finish, e.g. write a CPU profile). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startServer(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<Server> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d;
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d;
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server ${args.join(' ')} did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = () => {
      const match = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve({
        child,
        url: match[1]!,
        output: () => out,
        startMs: performance.now() - started,
        stop: async (signal: NodeJS.Signals = 'SIGKILL') => {
          if (child.exitCode === null) child.kill(signal);
          await exited;
        },
      });
    };
    child.stdout?.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening:\n${out}`));
    });
  });
}

/** Resident set size of a process in MB (Linux). */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export interface LoadResult {
  accepted: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Latency of GET /healthz sampled during the load. */
  healthP99: number;
  healthSamples: number;
}

/** POSTs messages with 64 connections for `seconds`, recipients cycling over a pool; probes /healthz meanwhile. */
export async function postLoad(url: string, seconds: number, connections = 64): Promise<LoadResult> {
  let n = 0;
  const health: number[] = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const t0 = performance.now();
      await fetch(`${url}/healthz`).then((r) => r.text());
      health.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const result = await autocannon({
    url: `${url}/api/messages`,
    connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (req) => {
          n++;
          return {
            ...req,
            body: JSON.stringify({
              to: `+97150${String(10_000_000 + (n % 5_000)).slice(1)}`,
              text: `benchmark message ${n}, about as long as a short notification`,
            }),
          };
        },
      },
    ],
  });
  probing = false;
  await prober;
  return {
    accepted: result['2xx'],
    perSecond: Math.round(result['2xx'] / (result.duration || seconds)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    healthP99: Math.round(percentile(health, 99) * 10) / 10,
    healthSamples: health.length,
  };
}

/** Runs `script` (TypeScript, through tsx) in a child process: sends it `job`, resolves with its one answer. */
export function runChild<Job, Result>(script: URL, job: Job, name: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(script), [], { execArgv: ['--import', 'tsx'] });
    child.once('message', (result) => resolve(result as Result));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${name} child exited with ${code}`));
    });
    child.send(job as object);
  });
}
