// The command line: `serve` runs the service (what npm start runs); `status` and `send` talk to a
// running one over HTTP. Errors the user can fix exit with code 2 and a sentence that says why.
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from '../actors/sim.transport.ts';
import { type Config, loadConfigFile, parseConfig } from './config.ts';
import { SwitchboardError } from './errors.ts';
import { createLogger } from './logger.ts';
import { normalizePhone } from './phone.ts';
import { closeOnSignals, startServer } from './server.ts';

const DEFAULT_URL = 'http://127.0.0.1:7420';

const HELP = {
  main: `switchboard: keeps a fleet of WhatsApp sender numbers working as one

usage: switchboard <command> [options]

commands:
  serve    run the service (default)
  status   print the fleet and open alerts of a running service
  send     send a message through a running service
  pair     link a WhatsApp number (a baileys master) as a new device

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

  Prints the fleet (GET /api/masters), then the alerts not resolved (GET /api/alerts).

  --url URL   the running service (default ${DEFAULT_URL})
  --json      print the raw JSON of GET /api/masters

environment: SWITCHBOARD_TOKEN, else SWITCHBOARD_READ_TOKEN, when the service has one`,
  send: `usage: switchboard send --to PHONE --text TEXT [--idempotency-key KEY] [--url URL]

  --to PHONE              recipient in international format, e.g. +971501234567
  --text TEXT             the message
  --idempotency-key KEY   sending again with the same key does not send twice
  --url URL               the running service (default ${DEFAULT_URL})

environment: SWITCHBOARD_TOKEN when the service has one`,
  pair: `usage: switchboard pair PHONE [--code] [--config FILE] [--data-dir DIR] [--force] [--timeout SECONDS]

  PHONE             the number to link, in international format, e.g. +971501234567
  --code            print a pairing code to type on the phone instead of showing a QR code
                    (WhatsApp > Linked devices > Link a device > Link with phone number instead)
  --config FILE     take the data dir from this config (default ./data)
  --data-dir DIR    where the credentials go: DIR/auth/PHONE/
  --force           pair again although the number has credentials (replaced only on success)
  --timeout S       give up after S seconds (default 180)

Scan the QR with the phone of PHONE: WhatsApp > Settings > Linked devices > Link a device.
Then reset the master of a running service (POST /api/masters/PHONE/reset) or start it.`,
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
    paired: m.paired === null || m.paired === undefined ? '-' : m.paired ? 'yes' : 'no',
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
  // Alerts not resolved (open or acknowledged); a service without a monitor answers 404: say nothing.
  const alerts = await request(`${base}/api/alerts`, { headers: bearer(token) });
  if (alerts.status !== 200) return;
  const active = (alerts.body as { alerts: AlertRow[] }).alerts.filter((a) => a.state !== 'resolved');
  if (active.length === 0) return void console.log('no open alerts');
  console.log(`open alerts (${active.length}):`);
  console.table(
    active.map((a) => ({
      id: a.id,
      severity: a.severity,
      state: a.state,
      key: a.key,
      since: a.createdAt,
      message: a.message,
    })),
  );
}

interface AlertRow {
  id: string;
  key: string;
  severity: string;
  state: string;
  message: string;
  createdAt: string;
}

interface MasterRow {
  phone: string;
  state: string;
  detail: string | null;
  reason: string | null;
  /** Baileys masters only (null otherwise; absent from older services). */
  paired?: boolean | null;
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

async function pair(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      code: { type: 'boolean' },
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      force: { type: 'boolean' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(HELP.pair);
  if (positionals.length !== 1)
    throw new SwitchboardError('SB_ERR_CONFIG', `one PHONE is needed\n${HELP.pair}`);
  const parsed = normalizePhone(positionals[0]!);
  if (!parsed.ok) throw new SwitchboardError('SB_ERR_INVALID_PHONE', parsed.reason);
  const config = values.config ? loadConfigFile(values.config) : parseConfig({});
  const timeoutS = values.timeout === undefined ? 180 : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `--timeout "${values.timeout}": expected a number of seconds`,
    );
  }
  const dataDir = values['data-dir'] ?? config.dataDir;
  const listed = config.masters.find((m) => m.phone === parsed.phone);
  if (values.config && listed?.transport !== 'baileys') {
    console.error(`note: ${parsed.phone} is not a baileys master in ${values.config}; pairing anyway`);
  }
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  // Loaded here: the other commands need neither Baileys nor the QR renderer.
  const [{ pairNumber }, { default: qrcode }] = await Promise.all([
    import('../actors/transports/baileys/pair.ts'),
    import('qrcode-terminal'),
  ]);
  console.log(
    values.code
      ? `pairing ${parsed.phone}: a code follows; on the phone: WhatsApp > Linked devices > Link a device > Link with phone number instead`
      : `pairing ${parsed.phone}: scan the QR code with its phone: WhatsApp > Settings > Linked devices > Link a device`,
  );
  const { jid } = await pairNumber({
    dataDir,
    phone: parsed.phone,
    method: values.code ? 'code' : 'qr',
    log,
    force: values.force ?? false,
    timeoutMs: timeoutS * 1000,
    showQr: (qr) => qrcode.generate(qr, { small: true }),
    showCode: (code) => console.log(`pairing code: ${code.slice(0, 4)}-${code.slice(4)}`),
  });
  console.log(`paired ${parsed.phone} as ${jid}; credentials in ${dataDir}/auth/${parsed.phone}/`);
  console.log(
    "a running service picks them up on the master's next reconnect: POST /api/masters/<phone>/reset",
  );
  log.flush();
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
    case 'pair':
      return pair(rest);
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
