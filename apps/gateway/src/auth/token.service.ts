import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { isValidId } from '@parley/contracts';
import { ParleyConfig } from '@parley/config';
import { GatewayCode, GatewayHttpError } from '../common/http-errors';

/** Verifies user tokens (HS256 only, `sub` = userId) and issues dev tokens. */
@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    private readonly config: ParleyConfig,
  ) {}

  /**
   * The user id of a valid token; 401 otherwise. Only HS256 is accepted: `alg: none` and every other
   * algorithm are refused, so a token cannot choose how it is checked.
   */
  async verify(token: string | undefined): Promise<string> {
    if (!token) throw unauthenticated('missing bearer token');
    let payload: { sub?: unknown };
    try {
      payload = await this.jwt.verifyAsync<{ sub?: unknown }>(token, { algorithms: ['HS256'] });
    } catch (err) {
      throw unauthenticated(`invalid token: ${(err as Error).message}`);
    }
    if (!isValidId(payload.sub)) throw unauthenticated('token subject is not a valid user id');
    return payload.sub;
  }

  /** A token for `userId` valid for `IM_DEV_TOKEN_TTL_S` (the dev token endpoint). */
  issue(userId: string): Promise<string> {
    return this.jwt.signAsync(
      { sub: userId },
      { algorithm: 'HS256', expiresIn: this.config.get('IM_DEV_TOKEN_TTL_S') },
    );
  }
}

function unauthenticated(message: string): GatewayHttpError {
  return new GatewayHttpError(401, GatewayCode.UNAUTHENTICATED, message, { 'WWW-Authenticate': 'Bearer' });
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}
