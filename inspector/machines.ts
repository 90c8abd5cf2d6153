// The machines the inspector draws. An actor is matched to its chart by its machine's id, so a
// provided machine (machine.provide()) finds the chart of its pure definition.
import type { AnyStateMachine } from 'xstate';
import { balancerMachine } from '../machines/balancer.machine.ts';
import { failoverMachine } from '../machines/failover.machine.ts';
import { masterMachine } from '../machines/master.machine.ts';
import { monitorMachine } from '../machines/monitor.machine.ts';
import { supervisorMachine } from '../machines/supervisor.machine.ts';

export const INSPECTED_MACHINES: readonly AnyStateMachine[] = [
  supervisorMachine,
  failoverMachine,
  balancerMachine,
  masterMachine,
  monitorMachine,
];
