import { ConsoleLogger, type LogLevel } from '@nestjs/common';

const ORDER: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];

/** Structured logs: one JSON object per line (time, level, app, context, message). */
export class JsonLogger extends ConsoleLogger {
  constructor(
    private readonly app: string,
    level: LogLevel = 'log',
  ) {
    super(app, { json: true, logLevels: ORDER.slice(0, ORDER.indexOf(level) + 1) });
  }
}
