import { type IncomingMessage } from 'node:http';
import { type INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { type TokenService } from '../auth/token.service';

/** The user a WebSocket upgrade authenticated as (set during the handshake). */
export const WS_USER = Symbol('parley.wsUser');

/** An upgrade request after authentication. */
export type AuthenticatedUpgrade = IncomingMessage & { [WS_USER]?: string };

/** The subprotocol the server selects when the client offers it next to its token. */
export const WS_PROTOCOL = 'parley.v1';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/**
 * The token of an upgrade: `?token=<jwt>`, or offered as a subprotocol (`Sec-WebSocket-Protocol:
 * parley.v1, <jwt>`) for clients that prefer not to put it in the URL.
 */
export function upgradeToken(req: IncomingMessage): string | undefined {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const query = url.searchParams.get('token');
  if (query) return query;
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim());
  return offered.find((p) => JWT_SHAPE.test(p));
}

/**
 * Nest's `ws` adapter with authentication in the handshake: a missing or invalid token is answered
 * 401 before any WebSocket exists. Frames are limited to `maxPayload` bytes.
 */
export class LiveWsAdapter extends WsAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly tokens: TokenService,
    private readonly maxPayload: number,
  ) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> = {}) {
    return super.create(port, {
      ...options,
      maxPayload: this.maxPayload,
      verifyClient: (
        info: { req: AuthenticatedUpgrade },
        done: (ok: boolean, status?: number, message?: string) => void,
      ) => {
        this.tokens.verify(upgradeToken(info.req)).then(
          (userId) => {
            info.req[WS_USER] = userId;
            done(true);
          },
          () => done(false, 401, 'Unauthorized'),
        );
      },
      // Select our protocol when offered; else echo the token (browsers require a selected protocol).
      handleProtocols: (protocols: Set<string>) =>
        protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : (protocols.values().next().value ?? false),
    });
  }
}
