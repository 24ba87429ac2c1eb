import pino, { type Logger } from 'pino';

/**
 * The one root logger. JSON lines on stderr (stdout is for command output), pretty when stderr is a terminal.
 * Units of work log through log.child({ run_id, stage }); rows never go into bindings (that is how PII leaks).
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  const pretty = process.stderr.isTTY && process.env.PORTRAIT_LOG_FORMAT !== 'json';
  if (pretty) {
    return pino({ level, base: undefined, transport: { target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino({ level, base: undefined }, pino.destination(2));
}
