import winston from 'winston';

export type Logger = winston.Logger;

/**
 * The process logger: one JSON object per line on stderr (json), or a short human line (text).
 * Services take a Logger (or a child with their component name) from the composition root.
 */
export function createLogger(opts: { level: string; format: 'json' | 'text'; silent?: boolean }): Logger {
  const format =
    opts.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp(),
          winston.format.printf((info) => {
            const { timestamp, level, message, component, ...rest } = info as Record<string, unknown>;
            const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
            return `${String(timestamp)} ${String(level)}${component ? ` [${String(component)}]` : ''} ${String(message)}${extra}`;
          }),
        );
  return winston.createLogger({
    level: opts.level,
    format,
    silent: opts.silent ?? false,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug', 'verbose', 'silly'] })],
  });
}
