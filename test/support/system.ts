import { decodeReply, encodeJson, type Reply } from '@parley/contracts';
import { createHmac } from 'node:crypto';
import { type AddressInfo } from 'node:net';
import { Test } from '@nestjs/testing';
import { type NestExpressApplication } from '@nestjs/platform-express';
import { ConfigService } from '@nestjs/config';
import { ParleyConfig, validateEnv } from '@parley/config';
import { connectToNats } from '@parley/event-log';
import { createTestDatabase, NatsServer, sharedInfra, uniqueName } from '@parley/testing';
import { type NatsConnection } from 'nats';
import { type WebSocket as WsSocket, WebSocket } from 'ws';
import { startTestActorHost, type TestActorHost } from '../../apps/actors/src/actor-host.fixture';
import { configureGateway, GATEWAY_APP_OPTIONS } from '../../apps/gateway/src/gateway.app';
import { GatewayModule } from '../../apps/gateway/src/gateway.module';
import { openHarness, type ProjectionHarness } from '../../apps/projector/src/testing/projection-harness';

/** A decoded JSON body: the tests assert its shape themselves. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** The secret every test gateway signs and verifies with. */
export const TEST_SECRET = 'parley-test-secret-0123456789';

/** A gateway app listening on a free port. */
export interface TestGateway {
  app: NestExpressApplication;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  close(): Promise<void>;
}

/** Starts the gateway in-process with the given environment (validated like the real one). */
export async function startGateway(env: Record<string, string>): Promise<TestGateway> {
  const settings = validateEnv({ IM_JWT_SECRET: TEST_SECRET, IM_DEV_AUTH: '1', LOG_LEVEL: 'warn', ...env });
  const moduleRef = await Test.createTestingModule({ imports: [GatewayModule] })
    .overrideProvider(ParleyConfig)
    .useValue(new ParleyConfig(new ConfigService(settings)))
    .compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({
    ...GATEWAY_APP_OPTIONS,
    logger: ['warn', 'error'],
  });
  configureGateway(app);
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** A private nats-server, an actor host, both projections and a gateway: the whole system in one process. */
export interface TestSystem {
  nats: NatsServer;
  nc: NatsConnection;
  actors: TestActorHost;
  projector: ProjectionHarness;
  gateway: TestGateway;
  /** Environment of the gateway (for more instances). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A NATS user: name and password. */
export interface NatsUser {
  user: string;
  pass: string;
}

/** Options of {@link startSystem}. */
export interface SystemOptions {
  /**
   * nats-server configuration requiring authentication (an `authorization` block), and the user each
   * app connects as (the projections connect as `projector`).
   */
  natsAuth?: {
    config: string;
    /** Environment of the server (the passwords the config refers to). */
    env?: Record<string, string>;
    users: Record<'actors' | 'projector' | 'gateway', NatsUser>;
  };
}

/** `nats://user:pass@host:port` for a server URL. */
export function natsUrlAs(url: string, u?: NatsUser): string {
  return u ? url.replace('nats://', `nats://${u.user}:${encodeURIComponent(u.pass)}@`) : url;
}

/**
 * Starts the system on a private nats-server (so no other test file's actor hosts or projectors meet
 * our events) with a fresh MySQL database and Redis prefix on the shared servers.
 */
export async function startSystem(
  gatewayEnv: Record<string, string> = {},
  opts: SystemOptions = {},
): Promise<TestSystem> {
  const { mysqlUrl, redisUrl } = sharedInfra();
  const auth = opts.natsAuth;
  const nats = await NatsServer.start(
    auth ? { config: auth.config, env: auth.env, probeUser: auth.users.projector } : {},
  );
  const env = {
    NATS_URL: natsUrlAs(nats.url, auth?.users.gateway),
    MYSQL_URL: await createTestDatabase(mysqlUrl, uniqueName('gw')),
    REDIS_URL: redisUrl,
    IM_REDIS_PREFIX: `${uniqueName('gw')}:`,
    IM_HOT_GROUPS_CACHE_MS: '0',
    ...gatewayEnv,
  };
  const actors = await startTestActorHost(natsUrlAs(nats.url, auth?.users.actors));
  const nc = await connectToNats({
    servers: natsUrlAs(nats.url, auth?.users.projector),
    name: 'gateway-test',
  });
  const projector = await openHarness(nc, env.MYSQL_URL, redisUrl, env.IM_REDIS_PREFIX);
  await projector.start({ batchSize: 100 });
  const gateway = await startGateway(env);
  return {
    nats,
    nc,
    actors,
    projector,
    gateway,
    env,
    async close() {
      await gateway.close().catch(() => undefined);
      await projector.close().catch(() => undefined);
      await actors.stop().catch(() => undefined);
      await nc.close().catch(() => undefined);
      await nats.dispose();
    },
  };
}

/** Sends a command over NATS request/reply, as another service would, and decodes its reply. */
export async function command<T = Json>(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  timeoutMs = 5_000,
): Promise<Reply<T>> {
  return decodeReply<T>((await nc.request(subject, encodeJson(body), { timeout: timeoutMs })).data);
}

/** Signs an HS256 JWT by hand (so tests can also forge bad ones). */
export function signToken(
  payload: Record<string, unknown>,
  opts: { secret?: string; alg?: string; expiresInS?: number } = {},
): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = { iat: now, exp: now + (opts.expiresInS ?? 3600), ...payload };
  const head = `${b64({ alg: opts.alg ?? 'HS256', typ: 'JWT' })}.${b64(body)}`;
  if (opts.alg === 'none') return `${head}.`;
  return `${head}.${createHmac('sha256', opts.secret ?? TEST_SECRET)
    .update(head)
    .digest('base64url')}`;
}

/** A small HTTP client for one user. */
export class Client {
  readonly token: string;

  constructor(
    readonly baseUrl: string,
    readonly userId: string,
    token?: string,
  ) {
    this.token = token ?? signToken({ sub: userId });
  }

  /** Sends a request; `body` is JSON-encoded unless it is a string (sent as is). */
  async call<T = Json>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  }

  /** Like {@link call}, but fails the test on an unexpected status. */
  async ok<T = Json>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
    const r = await this.call<T>(method, path, body);
    if (r.status !== status) {
      throw new Error(
        `${method} ${path} as ${this.userId}: ${r.status} ${JSON.stringify(r.body)} (wanted ${status})`,
      );
    }
    return r.body;
  }

  /** Opens a WebSocket and waits for its `ready` frame. */
  async socket(): Promise<LiveClient> {
    const ws = new WebSocket(`${this.baseUrl.replace('http', 'ws')}/v1/ws?token=${this.token}`);
    const live = new LiveClient(ws);
    await live.next((f) => f.type === 'ready');
    return live;
  }
}

/** A frame received on a socket. */
export type Frame = { type: string; [k: string]: Json };

/** A WebSocket client that records every frame. */
export class LiveClient {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];

  constructor(readonly ws: WsSocket) {
    ws.on('message', (d) => {
      this.frames.push(JSON.parse(d.toString()) as Frame);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Frames of a type. */
  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** Resolves with the first recorded frame matching `pred` (already received or arriving within the bound). */
  async next(pred: (f: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  /** Sends a frame. */
  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Closes and waits for the close. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
