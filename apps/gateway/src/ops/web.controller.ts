import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Controller, Get, Header, NotFoundException, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { type Response } from 'express';
import { Public } from '../auth/auth.guard';

// From source (apps/gateway/src/ops) and from a build (dist/apps/gateway/src/ops, the image copies public/ next to it).
const CANDIDATES = [resolve(__dirname, '../../public'), resolve(process.cwd(), 'apps/gateway/public')];

/** `GET /`: the small web client (one HTML file). */
@ApiExcludeController()
@Public()
@Controller()
export class WebController {
  private readonly page = CANDIDATES.map((d) => join(d, 'index.html')).find((f) => existsSync(f));

  @Get()
  @Header('Cache-Control', 'no-cache')
  index(@Res() res: Response): void {
    if (!this.page) throw new NotFoundException('the web client is not installed');
    res.sendFile(this.page);
  }
}
