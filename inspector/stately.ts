// `--inspect stately`: feeds Stately's own inspector through @statelyai/inspect. Its bridge server
// serves a page that embeds https://stately.ai/inspect, so the browser needs the internet; events
// go through our sanitiser first, like everything the self-hosted inspector shows.
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import type { InspectionEvent, Observer } from 'xstate';
import type { Sanitizer } from './sanitize.ts';

export interface StatelyInspection {
  /** The observer to pass to createActor({ inspect }). */
  inspect: Observer<InspectionEvent>;
  /** Where a person opens Stately's inspector (the bridge page on this host). */
  url: string;
  /** The bridge's WebSocket: events go in here and out to the page. */
  socketUrl: string;
  stop(): void;
}

export function startStatelyInspector(options: { port: number; sanitizer: Sanitizer }): StatelyInspection {
  const { port, sanitizer } = options;
  // The bridge listens on every interface (it has no host option): see README "Stately's inspector".
  const server = createInspectorServer({ port, autoOpen: false });
  const socketUrl = `ws://127.0.0.1:${port}`;
  const inspector = createWebSocketInspector({
    url: socketUrl,
    sanitizeEvent: (event) => sanitizer.event(event),
    sanitizeContext: (context) => (sanitizer.value(context) ?? {}) as Record<string, unknown>,
  });
  return {
    inspect: inspector.inspect,
    url: `http://localhost:${port}`,
    socketUrl,
    stop() {
      inspector.stop();
      server.stop();
    },
  };
}
