// switchboard as a library: createSwitchboard(config) returns a started runtime with the
// operations of the HTTP API; buildApp() serves it over Fastify.
export { buildApp } from './app.ts';
export { type Config, type ConfigInput, loadConfigFile, parseConfig } from './config.ts';
export { type ErrorCode, SwitchboardError } from './errors.ts';
export { createLogger } from './logger.ts';
export { startServer } from './server.ts';
export {
  createSwitchboard,
  type FailoverView,
  type MasterView,
  type MessageView,
  Switchboard,
  type SwitchboardOptions,
} from './switchboard.ts';
