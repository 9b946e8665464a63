import { connect } from 'node:net';
import { ServerProcess, type ServerOptions } from './server-process';

/** Options of {@link RedisServer.start}. */
export type RedisServerOptions = ServerOptions;

/** Sends PING over a raw socket and resolves on `+PONG` (no client library, no reconnect noise). */
function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy(new Error('PING timed out')));
    socket.once('error', reject);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (!reply.includes('\r\n')) return;
      socket.destroy();
      if (reply.startsWith('+PONG')) resolve();
      else reject(new Error(`unexpected reply to PING: ${reply.trim()}`));
    });
  });
}

/** A redis-server without persistence (`--save '' --appendonly no`) on 127.0.0.1, in a temp folder. */
export class RedisServer extends ServerProcess {
  private constructor(port: number, dir: string, opts: RedisServerOptions) {
    super(port, dir, opts);
  }

  /** Starts a server and waits until it answers PING. */
  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    return ServerProcess.boot('redis', opts, (port, dir) => new RedisServer(port, dir, opts));
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  protected get name(): string {
    return 'redis-server';
  }

  protected command(): { bin: string; args: string[] } {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--dir', this.dir);
    return { bin: 'redis-server', args: [...args, ...(this.options.args ?? [])] };
  }

  protected probe(): Promise<void> {
    return ping(this.port);
  }
}
