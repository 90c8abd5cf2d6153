// The naive baseline: Fastify with lowdb's own JSONFile adapter and one db.write() per accepted
// message (every write re-stringifies the whole document), as a store without a journal would do.
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';

const [file = '', port = '0'] = process.argv.slice(2);
const db = new Low<{ messages: Record<string, unknown> }>(new JSONFile(file), { messages: {} });
await db.read();

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
    db.data.messages[id] = {
      id,
      to: request.body.to,
      text: request.body.text,
      status: 'queued',
      createdAt: Date.now(),
    };
    await db.write();
    return reply.status(202).send({ id, status: 'queued' });
  },
);
app.get('/healthz', async () => ({ status: 'ok' }));
await app.listen({ host: '127.0.0.1', port: Number(port) });
const address = app.server.address();
console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`);
