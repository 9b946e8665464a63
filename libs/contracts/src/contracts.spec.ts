import {
  conversationCommandSubject,
  conversationEventSubject,
  decodeCommand,
  decodeEvent,
  decodeReply,
  directConversationId,
  encodeEvent,
  encodeJson,
  encodeReply,
  ErrorCode,
  errorReply,
  groupConversationId,
  isParleyError,
  okReply,
  parseCommandSubject,
  parseConversationId,
  parseEvent,
  type ParleyError,
  UserId,
} from './index';

/** Runs `fn` and returns the ParleyError it threw (fails the test when it threw nothing or something else). */
function errorOf(fn: () => unknown): ParleyError {
  try {
    fn();
  } catch (err) {
    if (isParleyError(err)) return err;
    throw err;
  }
  throw new Error('expected a ParleyError, nothing was thrown');
}

const sent = (data: Record<string, unknown>) => ({
  type: 'MessageSent',
  v: 1,
  conversationId: 'g:team',
  at: 1_763_800_000_000,
  commandId: 'cmd-1',
  data: { seq: 1, from: 'alice', clientMsgId: 'c-1', kind: 'text', body: 'hi', mentions: [], ...data },
});

describe('ids', () => {
  it.each([
    ['a.b', 'a dot (subject token separator)'],
    ['a*', 'a star wildcard'],
    ['a>', 'a tail wildcard'],
    ['a b', 'a space'],
    ['a\tb', 'a tab'],
    ['x'.repeat(65), '65 characters'],
    ['', 'nothing'],
    ['a:b', 'a colon (conversation id separator)'],
  ])('rejects %j (%s)', (id) => {
    expect(UserId.safeParse(id).success).toBe(false);
    expect(errorOf(() => groupConversationId(id)).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(errorOf(() => conversationCommandSubject(`g:${id}`, 'send')).code).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
  });

  it('accepts 64 characters of letters, digits, _ and -', () => {
    expect(UserId.safeParse('A-z_0'.padEnd(64, 'x')).success).toBe(true);
  });

  it('orders a direct conversation id whatever the order of its users', () => {
    expect(directConversationId('bob', 'alice')).toBe('d:alice:bob');
    expect(directConversationId('alice', 'bob')).toBe('d:alice:bob');
    expect(errorOf(() => directConversationId('alice', 'alice')).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('parses conversation ids and rejects unordered or malformed ones', () => {
    expect(parseConversationId('g:team')).toEqual({ kind: 'group', groupId: 'team' });
    expect(parseConversationId('d:alice:bob')).toEqual({ kind: 'direct', users: ['alice', 'bob'] });
    for (const bad of ['d:bob:alice', 'd:a:a', 'g:', 'g:a:b', 'x:team', 'team', 'g:te.am', 'd:a:b:c']) {
      expect(errorOf(() => parseConversationId(bad)).code).toBe(ErrorCode.INVALID_ARGUMENT);
    }
  });
});

describe('subjects', () => {
  it('builds and parses command subjects', () => {
    expect(conversationCommandSubject('g:team', 'send')).toBe('im.cmd.conv.g:team.send');
    expect(conversationEventSubject('d:alice:bob')).toBe('im.evt.conv.d:alice:bob');
    expect(parseCommandSubject('im.in.user.alice.read')).toEqual({
      channel: 'in',
      target: 'user',
      id: 'alice',
      op: 'read',
    });
  });

  it.each([
    'im.cmd.conv.g:team.explode',
    'im.cmd.user.alice.send',
    'im.cmd.room.x.send',
    'im.cmd.conv.g:team',
    'im.evt.conv.g:team.send',
    'im.cmd.conv.g:a.b.send',
  ])('rejects %s', (subject) => {
    expect(errorOf(() => parseCommandSubject(subject)).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe('events', () => {
  it('round-trips every event type', () => {
    const base = { v: 1, conversationId: 'g:team', at: 1, commandId: 'c' } as const;
    const events = [
      { ...base, type: 'GroupCreated', data: { name: 'Team', owner: 'alice', members: ['alice', 'bob'] } },
      { ...base, type: 'MembersJoined', data: { userIds: ['carol'], by: 'alice', joinSeq: 3 } },
      { ...base, type: 'MemberLeft', data: { userId: 'bob', by: 'bob', atSeq: 4, reason: 'left' } },
      sent({}),
      { ...base, type: 'MessageRecalled', data: { seq: 1, by: 'alice' } },
      { ...base, type: 'GroupDissolved', data: { by: 'alice', atSeq: 9 } },
      {
        type: 'ReadMarked',
        v: 1,
        userId: 'bob',
        at: 1,
        commandId: 'c',
        data: { conversationId: 'g:team', readSeq: 2 },
      },
    ];
    for (const e of events) {
      expect(decodeEvent(encodeEvent(parseEvent(e)))).toEqual(e);
    }
  });

  it('rejects an unknown event type loudly', () => {
    const err = errorOf(() => decodeEvent(encodeJson({ ...sent({}), type: 'MessageEdited' })));
    expect(err.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(err.message).toContain('MessageEdited');
    expect(errorOf(() => parseEvent({ v: 1 })).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(errorOf(() => parseEvent(null)).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('accepts unknown fields from newer writers', () => {
    const newer = { ...sent({ reactions: [] }), traceId: 't-1' };
    expect(parseEvent(newer).type).toBe('MessageSent');
  });

  it('rejects a body over the limit when writing (PAYLOAD_TOO_LARGE), but still reads a stored one', () => {
    const big = sent({ body: 'é'.repeat(8_193) }); // 16,386 UTF-8 bytes
    expect(errorOf(() => encodeEvent(big as never)).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    expect(decodeEvent(encodeJson(big)).type).toBe('MessageSent');
  });

  it('rejects bad ids and missing fields inside events', () => {
    expect(errorOf(() => parseEvent(sent({ from: 'a.b' }))).message).toContain('data.from');
    expect(errorOf(() => parseEvent(sent({ seq: 0 }))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(errorOf(() => parseEvent({ ...sent({}), conversationId: 'g:a*' })).code).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
  });
});

describe('decodeCommand', () => {
  const send = (body: unknown) => decodeCommand('im.cmd.conv.g:team.send', JSON.stringify(body));

  it('decodes a valid send', () => {
    expect(send({ from: 'alice', clientMsgId: 'c:1.a', kind: 'text', body: 'hi' })).toEqual({
      target: 'conv',
      conversationId: 'g:team',
      op: 'send',
      request: { from: 'alice', clientMsgId: 'c:1.a', kind: 'text', body: 'hi' },
    });
  });

  it('answers INVALID_ARGUMENT for malformed JSON, missing fields and bad ids, naming the field', () => {
    expect(errorOf(() => decodeCommand('im.cmd.conv.g:team.send', '{"from":')).message).toContain(
      'malformed JSON',
    );
    expect(errorOf(() => send({ from: 'alice', kind: 'text', body: 'x' })).message).toContain('clientMsgId');
    expect(
      errorOf(() => send({ from: 'al ice', clientMsgId: 'c', kind: 'text', body: 'x' })).message,
    ).toContain('from');
    expect(errorOf(() => send({ from: 'a', clientMsgId: 'c', kind: 'video', body: 'x' })).message).toContain(
      'kind',
    );
    expect(errorOf(() => send([])).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(
      errorOf(() => decodeCommand('im.cmd.conv.d:a:b.join', '{"by":"a","userIds":["c"]}')).message,
    ).toContain('groups only');
  });

  it('answers PAYLOAD_TOO_LARGE for a body over the limit and for a 1 MiB payload', () => {
    const over = { from: 'alice', clientMsgId: 'c', kind: 'text', body: 'x'.repeat(16 * 1024 + 1) };
    expect(errorOf(() => send(over)).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    const huge = { ...over, body: 'x'.repeat(1024 * 1024) };
    expect(errorOf(() => send(huge)).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    const custom = decodeCommand('im.cmd.conv.g:team.send', JSON.stringify({ ...over, body: 'xx' }), {
      maxBodyBytes: 2,
    });
    expect(custom.op).toBe('send');
  });

  it('round-trips replies', () => {
    expect(decodeReply(encodeReply(okReply({ seq: 1 })))).toEqual({ ok: true, result: { seq: 1 } });
    expect(decodeReply(encodeReply(errorReply(ErrorCode.GONE, 'dissolved')))).toEqual({
      ok: false,
      error: { code: 'GONE', message: 'dissolved' },
    });
  });
});
