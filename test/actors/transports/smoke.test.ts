import { afterEach, expect, it } from 'vitest';
import { baileysMaster, baileysTransport, seedPairedAuth, tempDataDir } from '../../support/baileys.ts';
import { WaEndpoint } from '../../support/wa-endpoint.ts';

const A = '+15550001111';
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanup.reverse()) await c(); cleanup = []; });

it('smoke', async () => {
  const data = tempDataDir();
  const endpoint = await WaEndpoint.start({ receipts: ['delivered', 'read'] });
  cleanup.push(async () => { await endpoint.close(); data.remove(); });
  await seedPairedAuth(data.dir, A);
  const t = baileysTransport(data.dir, A, endpoint);
  const m = baileysMaster(t);
  cleanup.push(m.stop);
  const t0 = Date.now();
  await m.reach('healthy');
  console.log('healthy after', Date.now() - t0);
  const receipts: unknown[] = [];
  t.onReceipt((r) => receipts.push(r));
  const s0 = Date.now();
  await t.send({ messageId: 'MSG1', to: '+15550002222', text: 'hi' }, new AbortController().signal);
  console.log('send acked after', Date.now() - s0, endpoint.received);
  await new Promise((r) => setTimeout(r, 300));
  console.log(receipts, m.states, endpoint.pings);
});
