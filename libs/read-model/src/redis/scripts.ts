/**
 * Lua merges of the counters projection. Each script touches exactly one key (its KEYS[1]), so every
 * write is independent of every other slot (Redis Cluster ready), and each is a monotonic merge:
 * applying the same arguments again, or older ones later, changes nothing.
 */

/** HMAX key field value [field value …]: each field becomes max(current, value). */
export const HMAX = `
local n = 0
for i = 1, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if (not cur) or tonumber(cur) < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    n = n + 1
  end
end
return n`;

/**
 * HVERSIONED key field "<version>|<joinSeq>|<leftSeq>" […]: a field is replaced only by a value with a
 * higher version. A join seq written as `*` (a leave, which does not carry it) keeps the stored one.
 */
export const HVERSIONED = `
local n = 0
for i = 1, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local v = ARGV[i + 1]
  if (not cur) or tonumber(string.match(cur, '^(%d+)')) < tonumber(string.match(v, '^(%d+)')) then
    if string.find(v, '|*|', 1, true) then
      local join = (cur and string.match(cur, '^%d+|(%d+)|')) or '0'
      v = (string.gsub(v, '|%*|', '|' .. join .. '|', 1))
    end
    redis.call('HSET', KEYS[1], ARGV[i], v)
    n = n + 1
  end
end
return n`;

/** SETMAX key value: the string becomes max(current, value). */
export const SETMAX = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0`;

/**
 * HEAD key type name activeAt seq streamSeq at previewJson dissolvedAt [recalledSeq …]
 * ('' or '0' = absent). type and name are set once; activeAt is a max; the last message is replaced
 * only by a higher seq; dissolvedAt is set once. A recall of the head marks it recalled; a recall of a
 * seq above the head (its message not applied yet, a redelivery out of order) is remembered as
 * \`r:<seq>\` until that message arrives; recalls below the head never matter for the preview.
 */
export const HEAD = `
local k = KEYS[1]
if ARGV[1] ~= '' then redis.call('HSETNX', k, 'type', ARGV[1]) end
if ARGV[2] ~= '' then redis.call('HSETNX', k, 'name', ARGV[2]) end
local activeAt = tonumber(ARGV[3])
if activeAt > 0 and tonumber(redis.call('HGET', k, 'activeAt') or '0') < activeAt then
  redis.call('HSET', k, 'activeAt', ARGV[3])
end
local seq = tonumber(ARGV[4])
if seq > 0 and tonumber(redis.call('HGET', k, 'lastSeq') or '0') < seq then
  local recalled = redis.call('HEXISTS', k, 'r:' .. ARGV[4])
  redis.call('HSET', k, 'lastSeq', ARGV[4], 'lastStreamSeq', ARGV[5], 'lastAt', ARGV[6], 'last', ARGV[7],
    'lastRecalled', recalled)
  for _, f in ipairs(redis.call('HKEYS', k)) do
    if string.sub(f, 1, 2) == 'r:' and tonumber(string.sub(f, 3)) <= seq then redis.call('HDEL', k, f) end
  end
end
if ARGV[8] ~= '0' then redis.call('HSETNX', k, 'dissolvedAt', ARGV[8]) end
for i = 9, #ARGV do
  local r = tonumber(ARGV[i])
  local last = tonumber(redis.call('HGET', k, 'lastSeq') or '0')
  if r == last then
    redis.call('HSET', k, 'lastRecalled', '1')
  elseif r > last then
    redis.call('HSET', k, 'r:' .. ARGV[i], '1')
  end
end
return 1`;

/**
 * READ_STATE userConvs userReads userOwn / prefix mode: one round trip for a user's unread counts or
 * session list, whatever the number of conversations. It reads each conversation's head, keys it does
 * not declare, which a standalone Redis allows (on a Cluster the same query takes two round trips:
 * the user's slot, then the heads pipelined per node). It returns raw positions; the unread rule
 * itself stays in TypeScript (libs/domain read-state), the one place it lives.
 * Row: cid, membership, readSeq, ownSeq, lastSeq[, activeAt, type, name, last, lastRecalled, dissolvedAt,
 * retentionMs] (a group's own history retention; no writer sets it until GroupSettingsChanged is projected).
 */
export const READ_STATE = `
local convs = redis.call('HGETALL', KEYS[1])
local reads, own = {}, {}
local r = redis.call('HGETALL', KEYS[2])
for i = 1, #r, 2 do reads[r[i]] = r[i + 1] end
local o = redis.call('HGETALL', KEYS[3])
for i = 1, #o, 2 do own[o[i]] = o[i + 1] end
local out = {}
for i = 1, #convs, 2 do
  local cid, m = convs[i], convs[i + 1]
  if string.sub(m, -1) ~= '|' then
    -- left: no unread, not in the session list
  else
    local head = ARGV[1] .. 'conv:{' .. cid .. '}:head'
    if ARGV[2] == 'sessions' then
      local h = redis.call('HMGET', head, 'lastSeq', 'activeAt', 'type', 'name', 'last', 'lastRecalled', 'dissolvedAt',
        'retentionMs')
      out[#out + 1] = { cid, m, reads[cid] or '0', own[cid] or '0', h[1] or '0', h[2] or '0', h[3] or '',
        h[4] or '', h[5] or '', h[6] or '0', h[7] or '', h[8] or '0' }
    else
      out[#out + 1] = { cid, m, reads[cid] or '0', own[cid] or '0', redis.call('HGET', head, 'lastSeq') or '0' }
    end
  end
end
return out`;
