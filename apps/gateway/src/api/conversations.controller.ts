import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ConversationId } from '@parley/contracts';
import { ParleyConfig } from '@parley/config';
import { ReadModel } from '@parley/read-model';
import { z } from 'zod';
import { CurrentUser } from '../auth/auth.guard';
import { CommandsService } from '../commands/commands.service';
import { ZodPipe } from '../common/zod.pipe';
import { ApiErrors } from './api-errors.decorator';
import {
  EmptyDto,
  HistoryDto,
  querySeq,
  ReadBody,
  ReadDto,
  ReadStateDto,
  SendBody,
  SendDto,
  SentDto,
  SessionsDto,
  SyncDto,
  UnreadDto,
} from './dto';
import { pageLimit } from './paging';

const cidPipe = new ZodPipe(ConversationId, 'conversationId');
const seqPipe = new ZodPipe(
  z
    .string()
    .regex(/^[1-9]\d{0,14}$/, 'must be a positive integer')
    .transform(Number),
  'seq',
);
const CID_DOC = {
  name: 'cid',
  example: 'g:team',
  description: 'g:<groupId> or d:<userA>:<userB> (userA < userB)',
};

/** Messages, read state, recent sessions, unread counts and multi-device sync of the caller. */
@ApiTags('conversations')
@Controller('v1')
export class ConversationsController {
  constructor(
    private readonly commands: CommandsService,
    private readonly readModel: ReadModel,
    private readonly config: ParleyConfig,
  ) {}

  /** Sends a message (members only; a direct chat only by its two users). */
  @Post('conversations/:cid/messages')
  @ApiOperation({ summary: 'Send a message; a resend of the same clientMsgId answers the original' })
  @ApiParam(CID_DOC)
  @ApiCreatedResponse({ type: SentDto })
  @ApiErrors(403, 404, 410, 413, 503)
  send(
    @CurrentUser() me: string,
    @Param('cid', cidPipe) cid: string,
    @Body(new ZodPipe(SendBody, 'message')) body: SendDto,
  ): Promise<SentDto> {
    return this.commands.send(me, cid, body);
  }

  /** A page of history, never before the caller's join seq. */
  @Get('conversations/:cid/messages')
  @ApiOperation({
    summary: 'History: afterSeq pages forward, otherwise backward from beforeSeq or the newest',
  })
  @ApiParam(CID_DOC)
  @ApiQuery({ name: 'afterSeq', required: false, type: Number })
  @ApiQuery({ name: 'beforeSeq', required: false, type: Number })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiOkResponse({ type: HistoryDto })
  @ApiErrors(403, 404)
  async history(
    @CurrentUser() me: string,
    @Param('cid', cidPipe) cid: string,
    @Query(new ZodPipe(z.object({ afterSeq: querySeq, beforeSeq: querySeq, limit: querySeq }), 'query'))
    q: { afterSeq?: number; beforeSeq?: number; limit?: number },
  ): Promise<HistoryDto> {
    const limit = pageLimit(q.limit, this.config.get('IM_PAGE_SIZE_MAX'));
    await this.commands.settle(me);
    return this.readModel.history(me, cid, { ...q, limit });
  }

  /** Recalls a message (its sender, or the group owner); history keeps a tombstone. */
  @Post('conversations/:cid/messages/:seq/recall')
  @HttpCode(200)
  @ApiOperation({ summary: 'Recall a message (sender or group owner)' })
  @ApiParam(CID_DOC)
  @ApiParam({ name: 'seq', example: 42 })
  @ApiOkResponse({ type: EmptyDto })
  @ApiErrors(403, 404, 410, 503)
  recall(
    @CurrentUser() me: string,
    @Param('cid', cidPipe) cid: string,
    @Param('seq', seqPipe) seq: number,
  ): Promise<EmptyDto> {
    return this.commands.recall(me, cid, seq);
  }

  /** Marks the conversation read up to `seq`. */
  @Post('conversations/:cid/read')
  @HttpCode(200)
  @ApiOperation({ summary: 'Mark read up to seq' })
  @ApiParam(CID_DOC)
  @ApiOkResponse({ type: ReadStateDto })
  @ApiErrors(403, 404, 503)
  read(
    @CurrentUser() me: string,
    @Param('cid', cidPipe) cid: string,
    @Body(new ZodPipe(ReadBody, 'read')) body: ReadDto,
  ): Promise<ReadStateDto> {
    return this.commands.markRead(me, cid, body.seq);
  }

  /** Recent sessions, newest first. */
  @Get('conversations')
  @ApiOperation({ summary: 'Recent sessions, most recently active first' })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiOkResponse({ type: SessionsDto })
  @ApiErrors()
  async sessions(
    @CurrentUser() me: string,
    @Query(new ZodPipe(z.object({ limit: querySeq }), 'query')) q: { limit?: number },
  ): Promise<SessionsDto> {
    const limit = pageLimit(q.limit, this.config.get('IM_PAGE_SIZE_MAX'));
    await this.commands.settle(me);
    return this.readModel.sessions(me, { limit });
  }

  /** Unread counts. */
  @Get('unread')
  @ApiOperation({ summary: 'Unread messages per conversation and in total' })
  @ApiOkResponse({ type: UnreadDto })
  @ApiErrors()
  async unread(@CurrentUser() me: string): Promise<UnreadDto> {
    await this.commands.settle(me);
    return this.readModel.unread(me);
  }

  /** Every message of the caller's conversations after a global cursor (multi-device sync). */
  @Get('sync')
  @ApiOperation({ summary: 'Messages of all your conversations after a cursor, in log order' })
  @ApiQuery({
    name: 'cursor',
    required: false,
    type: Number,
    description: 'a streamSeq; 0 or absent = from the start',
  })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiOkResponse({ type: SyncDto })
  @ApiErrors()
  async sync(
    @CurrentUser() me: string,
    @Query(new ZodPipe(z.object({ cursor: querySeq, limit: querySeq }), 'query'))
    q: { cursor?: number; limit?: number },
  ): Promise<SyncDto> {
    const limit = pageLimit(q.limit, this.config.get('IM_PAGE_SIZE_MAX'));
    await this.commands.settle(me);
    return this.readModel.sync(me, { cursor: q.cursor, limit });
  }
}
