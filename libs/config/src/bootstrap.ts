import { type INestApplicationContext, Logger, type LogLevel } from '@nestjs/common';
import { JsonLogger } from './json-logger';

/** The logger every app boots with: JSON lines at LOG_LEVEL (default `log`). */
export function appLogger(app: string): JsonLogger {
  return new JsonLogger(app, (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'log');
}

/**
 * Starts an app and wires graceful shutdown: on SIGTERM/SIGINT Nest runs the shutdown hooks
 * (consumers drain, batches finish, connections close), then the process exits; a failed boot exits 1.
 */
export async function runApp(name: string, start: () => Promise<INestApplicationContext>): Promise<void> {
  const log = new Logger(name);
  try {
    const app = await start();
    app.enableShutdownHooks();
    log.log(`${name} started (pid ${process.pid})`);
  } catch (err) {
    log.error(`${name} failed to start: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  }
}
