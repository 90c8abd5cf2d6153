// The one root logger: pretty in a terminal, JSON lines otherwise; secrets and, outside debug,
// recipients' numbers are redacted.
import pino, { type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Pretty output; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  // Tokens at every level, debug included; the request logger never logs headers, this is the net under it.
  const paths = [
    'token',
    '*.token',
    'readToken',
    '*.readToken',
    'authorization',
    '*.authorization',
    'req.headers.authorization',
    'headers.authorization',
    '*.headers.authorization',
  ];
  if (level !== 'debug' && level !== 'trace') paths.push('to', '*.to', 'recipient', '*.recipient');
  const base: pino.LoggerOptions = {
    level,
    redact: { paths, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (options.destination) return pino(base, options.destination);
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  if (pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return pino(base);
}
