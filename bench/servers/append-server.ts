// The ceiling for durable accept: Fastify that validates the body like switchboard does, appends
// each message as a JSON line, fsyncs once per group (everything that arrived meanwhile), and
// answers 202 after the fsync. No state, no routing: what the disk and the HTTP stack allow.
import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import Fastify from 'fastify';

const [file = '', port = '0'] = process.argv.slice(2);
const handle = await open(file, 'a');
let pending: { line: string; resolve: () => void }[] = [];
let writing = false;

async function flush(): Promise<void> {
  if (writing || pending.length === 0) return;
  writing = true;
  const batch = pending;
  pending = [];
  await handle.write(batch.map((b) => b.line).join(''));
  await handle.sync();
  for (const b of batch) b.resolve();
  writing = false;
  void flush();
}

const app = Fastify();
app.post<{ Body: { to: string; text: string } }>(
  '/api/messages',
  {
    schema: {
      body: {
        type: 'object',
        required: ['to', 'text'],
        additionalProperties: false,
        properties: {
          to: { type: 'string', minLength: 1, maxLength: 32 },
          text: { type: 'string', minLength: 1, maxLength: 4096 },
        },
      },
    },
  },
  async (request, reply) => {
    const id = randomUUID();
    const line = `${JSON.stringify({ id, to: request.body.to, text: request.body.text, at: Date.now() })}\n`;
    await new Promise<void>((resolve) => {
      pending.push({ line, resolve });
      setImmediate(() => void flush());
    });
    return reply.status(202).send({ id, status: 'queued' });
  },
);
app.get('/healthz', async () => ({ status: 'ok' }));
await app.listen({ host: '127.0.0.1', port: Number(port) });
const address = app.server.address();
console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`);
