import {
  type CanActivate,
  createParamDecorator,
  type ExecutionContext,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ParleyConfig } from '@parley/config';
import { type Request } from 'express';
import { GatewayCode, GatewayHttpError } from '../common/http-errors';
import { RateLimiter } from '../common/rate-limiter';
import { bearerToken, TokenService } from './token.service';

const PUBLIC = 'parley:public';

/** Marks a route (or controller) as reachable without a token. */
export const Public = () => SetMetadata(PUBLIC, true);

/** The authenticated user id of the request (set by {@link AuthGuard}). */
export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): string => {
  const userId = ctx.switchToHttp().getRequest<Request>().userId;
  if (!userId) throw new Error('CurrentUser on a public route');
  return userId;
});

function isPublic(reflector: Reflector, ctx: ExecutionContext): boolean {
  return reflector.getAllAndOverride<boolean>(PUBLIC, [ctx.getHandler(), ctx.getClass()]) === true;
}

/** Global guard: every route needs `Authorization: Bearer <JWT>` unless marked {@link Public}. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http' || isPublic(this.reflector, ctx)) return true;
    const req = ctx.switchToHttp().getRequest<Request>();
    req.userId = await this.tokens.verify(bearerToken(req.header('authorization')));
    return true;
  }
}

/** The per-user token bucket shared by HTTP requests and WebSocket frames. */
@Injectable()
export class UserRateLimiter extends RateLimiter {
  constructor(config: ParleyConfig) {
    super({ perSecond: config.get('IM_RATE_LIMIT_PER_SEC'), burst: config.get('IM_RATE_LIMIT_BURST') });
  }
}

/** Global guard after {@link AuthGuard}: 429 with `Retry-After` once a user exceeds their rate. */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: UserRateLimiter,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    if (ctx.getType() !== 'http' || isPublic(this.reflector, ctx)) return true;
    const userId = ctx.switchToHttp().getRequest<Request>().userId as string;
    const waitMs = this.limiter.take(userId);
    if (waitMs > 0) {
      throw new GatewayHttpError(
        429,
        GatewayCode.RATE_LIMITED,
        `rate limit exceeded, retry in ${waitMs} ms`,
        {
          'Retry-After': String(Math.ceil(waitMs / 1000)),
        },
      );
    }
    return true;
  }
}
