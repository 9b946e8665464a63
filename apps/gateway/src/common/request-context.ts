import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { type NextFunction, type Request, type Response } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request id (from `X-Request-Id` when valid, else generated), echoed in the response. */
    requestId?: string;
    /** The authenticated user (the token's `sub`), set by the auth guard. */
    userId?: string;
  }
}

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Observes each finished request (metrics). */
export type RequestObserver = (info: {
  method: string;
  route: string;
  status: number;
  seconds: number;
}) => void;

/**
 * Express middleware: assigns the request id and, when the response is finished, writes one JSON
 * access-log line and reports the request to `observe` (labelled by route pattern, not raw path,
 * so metrics stay low-cardinality).
 */
export function requestContext(observe: RequestObserver) {
  const log = new Logger('http');
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.header('x-request-id');
    req.requestId = given && VALID_REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.requestId);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = req.route ? `${req.baseUrl}${(req.route as { path: string }).path}` : 'unmatched';
      observe({ method: req.method, route, status: res.statusCode, seconds });
      if (route === '/metrics' || route.startsWith('/health')) return;
      log.log({
        msg: 'request',
        requestId: req.requestId,
        method: req.method,
        path: req.path,
        route,
        status: res.statusCode,
        ms: Math.round(seconds * 1e4) / 10,
        userId: req.userId,
      });
    });
    next();
  };
}
