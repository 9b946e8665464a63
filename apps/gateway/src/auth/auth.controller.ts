import { Body, Controller, HttpCode, NotFoundException, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { UserId } from '@parley/contracts';
import { ParleyConfig } from '@parley/config';
import { z } from 'zod';
import { ZodPipe } from '../common/zod.pipe';
import { Public } from './auth.guard';
import { TokenService } from './token.service';

const DevTokenBody = z.object({ userId: UserId });

/** `POST /v1/auth/dev-token` body. */
class DevTokenRequestDto {
  @ApiProperty({ example: 'alice', pattern: '^[A-Za-z0-9_-]{1,64}$' })
  userId!: string;
}

/** `POST /v1/auth/dev-token` answer. */
class DevTokenDto {
  @ApiProperty({ description: 'HS256 JWT with sub = userId' })
  token!: string;
}

/** Development login: a token for any user id, only when `IM_DEV_AUTH=1`. */
@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(
    private readonly tokens: TokenService,
    private readonly config: ParleyConfig,
  ) {}

  /** Issues a token for `userId` (404 unless IM_DEV_AUTH=1). */
  @Public()
  @Post('dev-token')
  @HttpCode(200)
  @ApiOperation({ summary: 'Get a token for any user (only when IM_DEV_AUTH=1)' })
  @ApiOkResponse({ type: DevTokenDto })
  async devToken(
    @Body(new ZodPipe(DevTokenBody, 'dev-token request')) body: DevTokenRequestDto,
  ): Promise<DevTokenDto> {
    // Off by default, and then indistinguishable from a route that does not exist.
    if (!this.config.get('IM_DEV_AUTH')) throw new NotFoundException('Cannot POST /v1/auth/dev-token');
    return { token: await this.tokens.issue(body.userId) };
  }
}
