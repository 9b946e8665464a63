import { Logger } from '@nestjs/common';
import { type OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import { ErrorCode } from '@parley/contracts';
import { ParleyConfig } from '@parley/config';
import { type RawData, type WebSocket } from 'ws';
import { UserRateLimiter } from '../auth/auth.guard';
import { GatewayCode } from '../common/http-errors';
import { GatewayMetrics } from '../ops/gateway-metrics';
import { type AuthenticatedUpgrade, WS_USER } from './live.adapter';
import { LiveHub } from './live-hub';
import { LiveSocket } from './live-socket';

/**
 * `WS /v1/ws`: the server pushes `message`, `recall`, `read`, `member`, `signal` and `heartbeat`
 * frames; the client may send `signal` (typing, online-only) and `ping`. Authentication happened in
 * the handshake ({@link LiveWsAdapter}).
 */
@WebSocketGateway({ path: '/v1/ws' })
export class LiveGateway implements OnGatewayConnection {
  private readonly log = new Logger('live');

  constructor(
    private readonly hub: LiveHub,
    private readonly limiter: UserRateLimiter,
    private readonly metrics: GatewayMetrics,
    private readonly config: ParleyConfig,
  ) {}

  handleConnection(ws: WebSocket, req: AuthenticatedUpgrade): void {
    const userId = req[WS_USER];
    if (!userId) {
      ws.close(4401, 'unauthenticated');
      return;
    }
    const socket = new LiveSocket(ws, userId, this.config.get('IM_WS_MAX_BUFFERED_BYTES'), () =>
      this.metrics.slowClients.inc(),
    );
    ws.on('pong', () => (socket.alive = true));
    ws.on('close', () => this.hub.disconnect(socket));
    ws.on('message', (data: RawData, isBinary: boolean) => this.onFrame(socket, data, isBinary));
    this.hub
      .connect(socket)
      .catch((err) => this.log.warn(`connect of ${userId} failed: ${(err as Error).message}`));
  }

  private onFrame(socket: LiveSocket, data: RawData, isBinary: boolean): void {
    socket.alive = true;
    const refuse = (code: string, message: string) => socket.send({ type: 'error', code, message });
    let frame: { type?: unknown; conversationId?: unknown; body?: unknown };
    try {
      if (isBinary) throw new Error('binary frame');
      frame = JSON.parse(data.toString()) as typeof frame;
      if (typeof frame !== 'object' || frame === null) throw new Error('not an object');
    } catch {
      refuse(ErrorCode.INVALID_ARGUMENT, 'frames are JSON objects with a type');
      return;
    }
    if (frame.type === 'ping') {
      socket.send({ type: 'pong', at: Date.now() });
      return;
    }
    if (frame.type !== 'signal') {
      refuse(ErrorCode.INVALID_ARGUMENT, `unknown frame type ${JSON.stringify(frame.type)}`);
      return;
    }
    if (this.limiter.take(socket.userId) > 0) {
      refuse(GatewayCode.RATE_LIMITED, 'rate limit exceeded');
      return;
    }
    const problem = this.hub.checkSignal(
      socket.userId,
      frame.conversationId,
      frame.body,
      this.config.get('IM_SIGNAL_MAX_BYTES'),
    );
    if (problem) {
      refuse(problem.code, problem.message);
      return;
    }
    this.hub.signal(socket.userId, frame.conversationId as string, frame.body as string);
  }
}
