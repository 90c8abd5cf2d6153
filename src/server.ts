// Boots the service: config -> switchboard -> Fastify, listens, and shuts down with grace on
// SIGINT/SIGTERM (stop accepting, let in-flight sends finish or mark them, commit, close, exit 0).
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import type { Config } from './config.ts';
import { SwitchboardError } from './errors.ts';
import { checkTokens } from './http/auth.ts';
import { createLogger, type Logger } from './logger.ts';
import { createSwitchboard, type Switchboard } from './switchboard.ts';

export interface ServerOptions {
  config: Config;
  token?: string | undefined;
  /** SWITCHBOARD_READ_TOKEN: reads only; refused without `token`. */
  readToken?: string | undefined;
  log?: Logger;
  /** How long in-flight sends get to finish at shutdown. */
  graceMs?: number;
}

export interface RunningServer {
  app: FastifyInstance;
  switchboard: Switchboard;
  url: string;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config } = options;
  const token = options.token || undefined;
  const readToken = options.readToken || undefined;
  checkTokens({ token, readToken });
  if (!token && !isLoopback(config.http.host)) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `refusing to listen on ${config.http.host} without a token: set SWITCHBOARD_TOKEN, or bind to 127.0.0.1`,
    );
  }
  const log = options.log ?? createLogger();
  const switchboard = await createSwitchboard(config, { log });
  let app: FastifyInstance;
  try {
    app = await buildApp({ switchboard, log, token, readToken });
    await app.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    await switchboard.stop(0);
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  const url = `http://${host}:${port}`;
  const auth = readToken ? 'bearer token, read-only token' : token ? 'bearer token' : 'none (loopback only)';
  log.info({ url, auth }, `switchboard listening on ${url}`);
  let closing: Promise<void> | null = null;
  return {
    app,
    switchboard,
    url,
    close: () => {
      closing ??= (async () => {
        await app.close(); // stop accepting; answers in progress finish
        await switchboard.stop(options.graceMs ?? 5_000);
      })();
      return closing;
    },
  };
}

/** Closes on the first SIGINT/SIGTERM; a second one exits at once. */
export function closeOnSignals(server: RunningServer, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      signalled = true;
      log.info({ signal }, 'shutting down: no new requests, in-flight sends get 5 s');
      server.close().then(
        () => resolve(),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exitCode = 1;
          resolve();
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
