import { randomBytes } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { groupConversationId, GroupId, UserId } from '@parley/contracts';
import { ParleyConfig } from '@parley/config';
import { ReadModel } from '@parley/read-model';
import { z } from 'zod';
import { CurrentUser } from '../auth/auth.guard';
import { CommandsService } from '../commands/commands.service';
import { ZodPipe } from '../common/zod.pipe';
import { ApiErrors } from './api-errors.decorator';
import {
  CreateGroupBody,
  CreateGroupDto,
  CreatedGroupDto,
  EmptyDto,
  GroupDto,
  HotGroupsDto,
  JoinBody,
  JoinDto,
  JoinedDto,
  querySeq,
} from './dto';
import { pageLimit } from './paging';

const groupIdPipe = new ZodPipe(GroupId, 'groupId');
const userIdPipe = new ZodPipe(UserId, 'userId');

/** Groups: create, inspect, membership, dissolve, and the active-groups ranking. */
@ApiTags('groups')
@Controller('v1/groups')
export class GroupsController {
  constructor(
    private readonly commands: CommandsService,
    private readonly readModel: ReadModel,
    private readonly config: ParleyConfig,
  ) {}

  /** Creates a group; the caller is its owner. */
  @Post()
  @ApiOperation({ summary: 'Create a group (the caller is the owner)' })
  @ApiCreatedResponse({ type: CreatedGroupDto })
  @ApiErrors(409, 503)
  async create(
    @CurrentUser() me: string,
    @Body(new ZodPipe(CreateGroupBody, 'group')) body: CreateGroupDto,
  ): Promise<CreatedGroupDto> {
    const groupId = body.groupId ?? randomBytes(9).toString('base64url');
    const cid = groupConversationId(groupId);
    await this.commands.createGroup(me, cid, body.name, body.members);
    return { conversationId: cid, groupId };
  }

  /** Groups ranked by distinct speakers in the recent window (from a snapshot cached a few seconds). */
  @Get('active')
  @ApiOperation({ summary: 'Groups ranked by distinct speakers in the last window' })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiOkResponse({ type: HotGroupsDto })
  @ApiErrors()
  async active(@Query(new ZodPipe(z.object({ limit: querySeq }), 'query')) q: { limit?: number }) {
    const limit = pageLimit(q.limit, this.config.get('IM_PAGE_SIZE_MAX'));
    return { groups: await this.readModel.hotGroups({ limit }) };
  }

  /** Name, owner, members with joinSeq, lastSeq, dissolved (members only). */
  @Get(':groupId')
  @ApiOperation({ summary: 'A group (members only)' })
  @ApiParam({ name: 'groupId', example: 'team' })
  @ApiOkResponse({ type: GroupDto })
  @ApiErrors(403, 404)
  async get(@CurrentUser() me: string, @Param('groupId', groupIdPipe) groupId: string): Promise<GroupDto> {
    await this.commands.settle(me);
    return this.readModel.group(me, groupId);
  }

  /** Adds members (members add anyone; a non-member may add only themself). */
  @Post(':groupId/members')
  @HttpCode(200)
  @ApiOperation({ summary: 'Add members, or join an open group yourself' })
  @ApiParam({ name: 'groupId', example: 'team' })
  @ApiOkResponse({ type: JoinedDto })
  @ApiErrors(403, 404, 410, 503)
  join(
    @CurrentUser() me: string,
    @Param('groupId', groupIdPipe) groupId: string,
    @Body(new ZodPipe(JoinBody, 'members')) body: JoinDto,
  ): Promise<JoinedDto> {
    return this.commands.join(me, groupConversationId(groupId), body.userIds);
  }

  /** Leaves (your own id) or removes a member (the owner). */
  @Delete(':groupId/members/:userId')
  @ApiOperation({ summary: 'Leave (your own id), or remove a member (owner only)' })
  @ApiParam({ name: 'groupId', example: 'team' })
  @ApiParam({ name: 'userId', example: 'bob' })
  @ApiOkResponse({ type: EmptyDto })
  @ApiErrors(403, 404, 410, 503)
  leave(
    @CurrentUser() me: string,
    @Param('groupId', groupIdPipe) groupId: string,
    @Param('userId', userIdPipe) userId: string,
  ): Promise<EmptyDto> {
    return this.commands.leave(me, groupConversationId(groupId), userId);
  }

  /** Dissolves the group (owner only). */
  @Delete(':groupId')
  @ApiOperation({ summary: 'Dissolve the group (owner only)' })
  @ApiParam({ name: 'groupId', example: 'team' })
  @ApiOkResponse({ type: EmptyDto })
  @ApiErrors(403, 404, 410, 503)
  dissolve(@CurrentUser() me: string, @Param('groupId', groupIdPipe) groupId: string): Promise<EmptyDto> {
    return this.commands.dissolve(me, groupConversationId(groupId));
  }
}
