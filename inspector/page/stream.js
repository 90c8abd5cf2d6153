// Reads the inspector's server-sent events with fetch(): EventSource cannot send an Authorization
// header. Reconnects by itself (the service restarted, a proxy dropped the line) with a capped backoff.

/**
 * @typedef {'connecting' | 'live' | 'reconnecting' | 'unauthorized'} StreamStatus
 * @typedef {object} StreamOptions
 * @property {string} url
 * @property {() => Record<string, string>} headers  read before every connection (the token may change)
 * @property {(data: unknown) => void} onMessage  one parsed `data:` payload
 * @property {(status: StreamStatus, detail?: string) => void} onStatus
 * @property {() => Promise<void>} [waitForToken]  resolves when the user gave a token after a 401
 * @property {number} [silenceMs]  no byte for this long (heartbeats come every 15 s): reconnect
 */

/**
 * Opens the stream; returns a function that closes it for good.
 * @param {StreamOptions} options
 * @returns {() => void}
 */
export function openStream(options) {
  let stopped = false;
  /** @type {AbortController | undefined} */
  let current;
  const silenceMs = options.silenceMs ?? 45_000;

  const run = async () => {
    let delay = 500;
    while (!stopped) {
      options.onStatus('connecting');
      const controller = new AbortController();
      current = controller;
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let watchdog;
      const feed = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => controller.abort(), silenceMs);
      };
      try {
        feed();
        const res = await fetch(options.url, {
          headers: { accept: 'text/event-stream', ...options.headers() },
          cache: 'no-store',
          signal: controller.signal,
        });
        if (res.status === 401 || res.status === 403) {
          clearTimeout(watchdog);
          options.onStatus('unauthorized');
          if (options.waitForToken) await options.waitForToken();
          else await sleep(5_000);
          continue;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        options.onStatus('live');
        delay = 500;
        await readEvents(res.body, options.onMessage, feed);
      } catch (err) {
        if (stopped) return;
        options.onStatus('reconnecting', err instanceof Error ? err.message : String(err));
      } finally {
        clearTimeout(watchdog);
      }
      if (stopped) return;
      options.onStatus('reconnecting');
      await sleep(delay);
      delay = Math.min(delay * 2, 5_000);
    }
  };
  run();
  return () => {
    stopped = true;
    current?.abort();
  };
}

/**
 * Splits a server-sent events body into events and hands each `data` payload, parsed, to onMessage.
 * @param {ReadableStream<Uint8Array>} body
 * @param {(data: unknown) => void} onMessage
 * @param {() => void} onBytes
 */
export async function readEvents(body, onMessage, onBytes) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onBytes();
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
        .join('\n');
      if (data) onMessage(JSON.parse(data));
    }
  }
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
