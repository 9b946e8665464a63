import { createServer } from 'node:net';
import { processWide } from './process-wide';

/** Ports already handed out in this OS process (shared across jest's per-file module registries). */
const handedOut = processWide('free-ports', () => new Set<number>());

function listenOnZero(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A free TCP port on 127.0.0.1: listen on port 0, read it, close. A port is never handed out twice
 * within this process, so concurrent callers get distinct ports even before anyone binds them.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const port = await listenOnZero();
    // Checked and recorded synchronously after the await: two concurrent calls cannot both pass.
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: the OS kept returning ports that were already handed out');
}
