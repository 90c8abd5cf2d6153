// Builds the Baileys transports of a config's `transport: "baileys"` masters, one per number, with
// their credentials under <dataDir>/auth/<E.164>/; also the guard on the test-only endpoint.
import { isIP } from 'node:net';
import type { Config } from '../../../src/config.ts';
import { SwitchboardError } from '../../../src/errors.ts';
import type { Logger } from '../../../src/logger.ts';
import { authDir } from './auth-store.ts';
import { BaileysTransport } from './baileys.transport.ts';

export { AuthStore, authDir, isPairedCreds, readPaired } from './auth-store.ts';
export { BaileysTransport, NOT_PAIRED_CLOSE } from './baileys.transport.ts';

export interface BaileysOptions {
  /**
   * TEST ONLY: the WebSocket URL each master's socket connects to instead of WhatsApp's. Only
   * code can set it (the config file cannot), only to a loopback ws:// address, and only when
   * NODE_ENV is "test": a process that trusts a fake server must never be a production process.
   */
  testEndpoint?: (phone: string) => string;
  /** fsync credential writes (default true). */
  fsync?: boolean;
}

export function createBaileysTransports(
  config: Config,
  deps: { dataDir: string; log: Logger } & BaileysOptions,
): Map<string, BaileysTransport> {
  const transports = new Map<string, BaileysTransport>();
  for (const m of config.masters) {
    if (m.transport !== 'baileys') continue;
    const endpoint = deps.testEndpoint ? checkTestEndpoint(deps.testEndpoint(m.phone)) : undefined;
    if (endpoint) deps.log.warn({ master: m.phone, endpoint }, 'baileys: TEST endpoint in use, not WhatsApp');
    transports.set(
      m.phone,
      new BaileysTransport({
        phone: m.phone,
        authDir: authDir(deps.dataDir, m.phone),
        log: deps.log,
        logLevel: config.baileys.logLevel,
        openTimeoutMs: config.baileys.openTimeoutMs,
        probeTimeoutMs: config.health.timeoutMs,
        keepAliveIntervalMs: config.baileys.keepAliveIntervalMs,
        ...(deps.fsync === undefined ? {} : { fsync: deps.fsync }),
        ...(endpoint ? { endpoint } : {}),
      }),
    );
  }
  return transports;
}

/** Refuses a test endpoint outside tests or off this machine. */
export function checkTestEndpoint(raw: string): string {
  if (process.env.NODE_ENV !== 'test') {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      'a test endpoint for Baileys is set but NODE_ENV is not "test": refusing to connect to anything but WhatsApp',
    );
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SwitchboardError('SB_ERR_CONFIG', `test endpoint "${raw}" is not a URL`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
  if (url.protocol !== 'ws:' || !loopback) {
    throw new SwitchboardError('SB_ERR_CONFIG', `test endpoint "${raw}" must be a ws:// loopback address`);
  }
  return url.toString();
}
