// The command line: `serve` runs the fleet. (status and send come with the HTTP API.)
import { parseArgs } from 'node:util';
import { createActor } from 'xstate';
import { realClock } from '../actors/clock.ts';
import { createMasterLogic } from '../actors/master.actor.ts';
import { logMaster } from '../actors/master-log.ts';
import { FAULT_KINDS, type FaultKind, SimNetwork } from '../actors/sim.transport.ts';
import { type Config, loadConfigFile, masterSettingsFrom, parseConfig } from './config.ts';
import { SwitchboardError } from './errors.ts';
import { createLogger } from './logger.ts';

const USAGE = `usage: switchboard serve [--config FILE] [--fault PHONE=KIND@SECONDS ...]

  --config FILE     JSON config (default: three simulated masters)
  --fault SPEC      inject a sim fault after SECONDS, e.g. --fault +971501234567=hang@10
                    kinds: ${FAULT_KINDS.join(', ')}`;

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

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      fault: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const config: Config = values.config ? loadConfigFile(values.config) : parseConfig({});
  const faults = (values.fault ?? []).map(parseFault);
  const log = createLogger();
  const network = new SimNetwork({
    clock: realClock,
    latencyMs: config.sim.latencyMs,
    seed: config.sim.seed,
  });
  const logic = createMasterLogic({ transportFor: (phone) => network.account(phone), clock: realClock });
  const settings = masterSettingsFrom(config);
  const masters = config.masters.map((m) => {
    const actor = createActor(logic, { input: { phone: m.phone, settings } });
    logMaster(actor, log);
    return actor;
  });
  for (const f of faults) {
    if (!config.masters.some((m) => m.phone === f.phone)) {
      throw new SwitchboardError('SB_ERR_CONFIG', `--fault: no master ${f.phone} in the config`);
    }
  }
  log.info({ masters: config.masters.map((m) => m.phone) }, 'switchboard starting');
  for (const actor of masters) actor.start();
  const timers = faults.map((f) =>
    setTimeout(() => {
      log.warn({ master: f.phone, fault: f.kind }, 'injecting sim fault');
      network.inject(f.phone, { kind: f.kind });
    }, f.afterMs),
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'switchboard stopping');
      for (const t of timers) clearTimeout(t);
      for (const actor of masters) actor.stop();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  log.flush();
}

async function main(): Promise<void> {
  const [command = 'serve', ...rest] = process.argv.slice(2);
  if (command === 'serve') return serve(rest);
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return;
  }
  throw new SwitchboardError('SB_ERR_CONFIG', `unknown command "${command}"\n${USAGE}`);
}

main().catch((err: unknown) => {
  if (err instanceof SwitchboardError) {
    console.error(`switchboard: ${err.message}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
