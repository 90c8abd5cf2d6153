// The command line: `serve` runs the service (what npm start runs); `status` and `send` talk to a
// running one over HTTP. Errors the user can fix exit with code 2 and a sentence that says why.
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from '../actors/sim.transport.ts';
import { type Config, loadConfigFile, parseConfig } from './config.ts';
import { SwitchboardError } from './errors.ts';
import { createLogger } from './logger.ts';
import { closeOnSignals, startServer } from './server.ts';

const DEFAULT_URL = 'http://127.0.0.1:7420';

const HELP = {
  main: `switchboard: keeps a fleet of WhatsApp sender numbers working as one

usage: switchboard <command> [options]

commands:
  serve    run the service (default)
  status   print the fleet of a running service
  send     send a message through a running service

switchboard <command> --help for its options`,
  serve: `usage: switchboard serve [--config FILE] [--port P] [--host H] [--data-dir DIR] [--fault SPEC ...]
                       [--inspect stately]

  --config FILE     JSON config; without it, three simulated masters (see README)
  --port P          HTTP port (config http.port, default 7420; 0 picks a free one)
  --host H          HTTP host (default 127.0.0.1; any other host needs SWITCHBOARD_TOKEN)
  --data-dir DIR    where the store lives (config dataDir, default ./data)
  --fault SPEC      inject a sim fault after some seconds: PHONE=KIND@SECONDS,
                    e.g. --fault +971501234567=hang@10; kinds: ${FAULT_KINDS.join(', ')}
  --inspect stately also feed Stately's inspector (config inspector.stately): open
                    http://localhost:8080 (inspector.statelyPort); that page needs the internet.
                    The self-hosted inspector is always at /inspector.

environment: SWITCHBOARD_TOKEN (bearer token for every route but /healthz and /readyz; empty = none),
             SWITCHBOARD_READ_TOKEN (a second token that may only read; needs SWITCHBOARD_TOKEN), LOG_LEVEL`,
  status: `usage: switchboard status [--url URL] [--json]

  --url URL   the running service (default ${DEFAULT_URL})
  --json      print the raw JSON of GET /api/masters

environment: SWITCHBOARD_TOKEN, else SWITCHBOARD_READ_TOKEN, when the service has one`,
  send: `usage: switchboard send --to PHONE --text TEXT [--idempotency-key KEY] [--url URL]

  --to PHONE              recipient in international format, e.g. +971501234567
  --text TEXT             the message
  --idempotency-key KEY   sending again with the same key does not send twice
  --url URL               the running service (default ${DEFAULT_URL})

environment: SWITCHBOARD_TOKEN when the service has one`,
};

interface ScheduledFault {
  phone: string;
  kind: FaultKind;
  afterMs: number;
}

function parseFault(spec: string): ScheduledFault {
  const match = /^(\+\d+)=([a-z]+)(?:@(\d+(?:\.\d+)?))?$/.exec(spec);
  if (!match || !FAULT_KINDS.includes(match[2] as FaultKind)) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `--fault "${spec}": expected PHONE=KIND@SECONDS, KIND one of ${FAULT_KINDS.join(', ')}`,
    );
  }
  return { phone: match[1]!, kind: match[2] as FaultKind, afterMs: Number(match[3] ?? 0) * 1000 };
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new SwitchboardError('SB_ERR_CONFIG', `--port "${value}": expected a whole number from 0 to 65535`);
  }
  return port;
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      fault: { type: 'string', multiple: true },
      inspect: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(HELP.serve);
  if (values.inspect !== undefined && values.inspect !== 'stately') {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `--inspect "${values.inspect}": the only choice is "stately" (the self-hosted inspector is always at /inspector)`,
    );
  }
  const base: Config = values.config ? loadConfigFile(values.config) : parseConfig({});
  const port = parsePort(values.port);
  const config: Config = {
    ...base,
    http: { ...base.http, host: values.host ?? base.http.host, port: port ?? base.http.port },
    dataDir: values['data-dir'] ?? base.dataDir,
    inspector: { ...base.inspector, stately: base.inspector.stately || values.inspect === 'stately' },
  };
  const faults = (values.fault ?? []).map(parseFault);
  for (const f of faults) {
    if (!config.masters.some((m) => m.phone === f.phone && m.transport === 'sim')) {
      throw new SwitchboardError('SB_ERR_CONFIG', `--fault: no simulated master ${f.phone} in the config`);
    }
  }
  const log = createLogger();
  const server = await startServer({
    config,
    token: process.env.SWITCHBOARD_TOKEN,
    readToken: process.env.SWITCHBOARD_READ_TOKEN,
    log,
  });
  const timers = faults.map((f) =>
    setTimeout(() => server.switchboard.injectFault(f.phone, { kind: f.kind }), f.afterMs),
  );
  await closeOnSignals(server, log);
  for (const t of timers) clearTimeout(t);
  log.flush();
}

async function request(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `cannot reach ${url}: ${(err as Error).cause ?? (err as Error).message}`,
    );
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

function bearer(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

function failIfError(status: number, body: unknown): void {
  if (status < 400) return;
  const message = typeof body === 'object' && body && 'message' in body ? String(body.message) : String(body);
  throw new SwitchboardError('SB_ERR_CONFIG', `the service answered ${status}: ${message}`);
}

async function status(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { url: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void console.log(HELP.status);
  const base = values.url ?? DEFAULT_URL;
  // A read: either token will do.
  const token = process.env.SWITCHBOARD_TOKEN || process.env.SWITCHBOARD_READ_TOKEN;
  const { status: code, body } = await request(`${base}/api/masters`, { headers: bearer(token) });
  failIfError(code, body);
  if (values.json) return void console.log(JSON.stringify(body, null, 2));
  const masters = (body as { masters: MasterRow[] }).masters;
  const rows = masters.map((m) => ({
    phone: m.phone,
    state: m.detail ? `${m.state} (${m.detail})` : m.state,
    priority: m.priority,
    region: m.region,
    inFlight: m.load.inFlight,
    queued: m.load.queued,
    sent: m.load.completed,
    failed: m.load.failed,
    since: m.since,
    reason: m.reason ?? '',
  }));
  console.table(rows);
}

interface MasterRow {
  phone: string;
  state: string;
  detail: string | null;
  reason: string | null;
  priority: number;
  region: string;
  since: string;
  load: { inFlight: number; queued: number; completed: number; failed: number };
}

async function send(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      to: { type: 'string' },
      text: { type: 'string' },
      'idempotency-key': { type: 'string' },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(HELP.send);
  if (!values.to || !values.text)
    throw new SwitchboardError('SB_ERR_CONFIG', `--to and --text are required\n${HELP.send}`);
  const token = process.env.SWITCHBOARD_TOKEN;
  const { status: code, body } = await request(`${values.url ?? DEFAULT_URL}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(token) },
    body: JSON.stringify({
      to: values.to,
      text: values.text,
      ...(values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {}),
    }),
  });
  failIfError(code, body);
  const { id, status: state } = body as { id: string; status: string };
  console.log(`${code === 202 ? 'accepted' : 'already accepted'}: ${id} (${state})`);
}

async function main(): Promise<void> {
  const [command = 'serve', ...rest] = process.argv.slice(2);
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'status':
      return status(rest);
    case 'send':
      return send(rest);
    case '--help':
    case '-h':
    case 'help':
      return void console.log(HELP.main);
    default:
      if (command.startsWith('--')) return serve([command, ...rest]);
      throw new SwitchboardError('SB_ERR_CONFIG', `unknown command "${command}"\n${HELP.main}`);
  }
}

main().catch((err: unknown) => {
  if (
    err instanceof SwitchboardError ||
    (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
  ) {
    console.error(`switchboard: ${(err as Error).message}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
