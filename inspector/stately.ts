// `--inspect stately`: feeds Stately's own inspector through @statelyai/inspect. Its bridge server
// serves a page that embeds https://stately.ai/inspect, so the browser needs the internet; every
// event goes through our sanitiser first, like everything the self-hosted inspector shows.
import { createWebSocketInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { configure } from 'safe-stable-stringify';
import type { InspectionEvent, Observer } from 'xstate';
import { Sanitizer } from './sanitize.ts';

export interface StatelyInspection {
  /** The observer to pass to createActor({ inspect }). */
  inspect: Observer<InspectionEvent>;
  /** Where a person opens Stately's inspector (the bridge page on this host). */
  url: string;
  /** The bridge's WebSocket: events go in here and out to the page. */
  socketUrl: string;
  stop(): void;
}

export function startStatelyInspector(options: {
  port: number;
  isFleetNumber?: (phone: string) => boolean;
}): StatelyInspection {
  const { port } = options;
  // First the JSON Stately would send (snapshots through their toJSON, actor references as
  // {xstate$$type, id}, cycles cut), then our sanitiser over it. Stately's events carry the machine
  // definition as one JSON string: bounds wide enough for it.
  const stringify = configure({ maximumDepth: 10 });
  const sanitizer = new Sanitizer({
    ...(options.isFleetNumber ? { isFleetNumber: options.isFleetNumber } : {}),
    maxDepth: 12,
    maxItems: 1_000,
    maxString: 200_000,
  });
  // The bridge listens on every interface (it has no host option): see README "Stately's inspector".
  const server = createInspectorServer({ port, autoOpen: false });
  const socketUrl = `ws://127.0.0.1:${port}`;
  const inspector = createWebSocketInspector({
    url: socketUrl,
    // The whole event, after Stately has turned it into JSON: contexts, events, actors' input.
    serialize: (event) =>
      sanitizer.value(JSON.parse(stringify(event) ?? '{}')) as unknown as StatelyInspectionEvent,
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
