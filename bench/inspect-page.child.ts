// A page for inspect.bench.ts: a real HTTP client reading /inspector/stream in its own process,
// parsing every message as the browser page does, and counting what arrives.
import type { StreamMessage } from '../inspector/protocol.ts';

export interface PageReport {
  events: number;
  bytes: number;
  dropped: number;
  messages: number;
}

const counts: PageReport = { events: 0, bytes: 0, dropped: 0, messages: 0 };
process.on('message', () => process.send?.({ ...counts }));

const res = await fetch(process.argv[2]!, { headers: { accept: 'text/event-stream' } });
const reader = res.body!.getReader();
const decoder = new TextDecoder();
let buffer = '';
let ready = false;
for (;;) {
  const { value, done } = await reader.read();
  if (done) break;
  if (!ready) {
    ready = true;
    process.send?.('ready');
  }
  counts.bytes += value.byteLength;
  buffer += decoder.decode(value, { stream: true });
  let end = buffer.indexOf('\n\n');
  while (end >= 0) {
    const line = buffer
      .slice(0, end)
      .split('\n')
      .find((l) => l.startsWith('data: '));
    buffer = buffer.slice(end + 2);
    end = buffer.indexOf('\n\n');
    if (!line) continue;
    const message = JSON.parse(line.slice(6)) as StreamMessage;
    counts.messages++;
    counts.events += message.events.length;
    if (message.type === 'batch') counts.dropped += message.dropped;
  }
}
