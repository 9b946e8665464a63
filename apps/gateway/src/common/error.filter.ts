import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import { type Request, type Response } from 'express';
import { toHttpError } from './http-errors';

/** The one place where errors become HTTP answers: `{"error":{"code","message"}}` with the mapped status. */
@Catch()
export class ParleyExceptionFilter implements ExceptionFilter {
  private readonly log = new Logger('http');

  catch(err: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body, headers } = toHttpError(err);
    if (status >= 500 && status !== 503) {
      this.log.error({
        msg: 'request failed',
        requestId: req.requestId,
        path: req.originalUrl,
        err: (err as Error)?.stack ?? String(err),
      });
    }
    if (res.headersSent) return;
    res.status(status).set(headers).json(body);
  }
}
