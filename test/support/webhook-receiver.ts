// A real webhook receiver for tests: a node:http server on 127.0.0.1 that records every request and
// answers as the test says (a status, after a delay, or never).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  /** Arrival (Date.now()). */
  at: number;
  headers: IncomingHttpHeaders;
  raw: string;
  body: { id: string; type: string; timestamp: string; data: Record<string, unknown> };
  /** What it was answered (null: never). */
  status: number | null;
}

export type Answer = { status: number; delayMs?: number } | 'hang';

export interface Receiver {
  url: string;
  received: ReceivedRequest[];
  /** Requests open now, and the most at once. */
  open(): number;
  maxOpen(): number;
  setAnswer(answer: (req: ReceivedRequest) => Answer): void;
  close(): Promise<void>;
}

export async function startReceiver(
  answer: (req: ReceivedRequest) => Answer = () => ({ status: 200 }),
): Promise<Receiver> {
  let decide = answer;
  const received: ReceivedRequest[] = [];
  let open = 0;
  let maxOpen = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const entry: ReceivedRequest = {
        at: Date.now(),
        headers: req.headers,
        raw,
        body: JSON.parse(raw),
        status: null,
      };
      received.push(entry);
      open++;
      maxOpen = Math.max(maxOpen, open);
      let closed = false;
      const done = () => {
        if (closed) return;
        closed = true;
        open--;
      };
      res.on('close', done);
      const a = decide(entry);
      if (a === 'hang') return;
      setTimeout(() => {
        entry.status = a.status;
        res.writeHead(a.status, { 'content-type': 'text/plain' }).end('ok');
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    open: () => open,
    maxOpen: () => maxOpen,
    setAnswer: (fn) => {
      decide = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
