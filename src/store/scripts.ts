/**
 * The Lua scripts both Redis adapters run, so a job set's update, lookup and
 * lease are each one atomic round trip (one HTTP request for Upstash). Every
 * script touches only the keys of one job set, which share a Cluster slot.
 */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
}

// No hashing here: the edge entry runs these scripts too, without Node's crypto
// (the RESP adapter computes its EVALSHA digests itself).
function script(name: string, source: string): LuaScript {
  return { name, source };
}

// Lua's unpack() is bounded by the C stack (about 8000 values), so long
// argument lists go to Redis in chunks. The chunk is even so field/value pairs
// never straddle two HSET calls.
const CHUNK = 1000;

// Reserved fields of the jobs hash (see keys.ts).
const PROGRESS = "':progress'";
const CURSOR = "':cursor'";
const FENCE = "':fence'";

/** What the write script answers. */
export const WRITE_OUTCOME = { written: 1, stale: 2, fenced: 3 } as const;

/**
 * KEYS: jobs hash. ARGV: ttl seconds, encoded progress, cursor, "1" if a
 * cursor is expected ("0": nothing may be stored), the expected cursor,
 * fencing token, then field/value pairs.
 *
 * The guard and the write are one atomic step: a job set that vanished or was
 * rewritten since this writer last saw it, or that a newer lease holder wrote,
 * is refused before anything changes. Tokens are compared as numbers; they
 * stay below 2^53, where Lua's doubles are exact. The token is stored as the
 * text it came as, because Lua would print a large number in exponent form.
 * A WRONGTYPE error stops the script at the first HGET, before anything changed.
 */
export const WRITE_SCRIPT = script(
  "write",
  `
local written = redis.call('HGET', KEYS[1], ${FENCE})
if written and tonumber(ARGV[6]) < tonumber(written) then return ${WRITE_OUTCOME.fenced} end
local cursor = redis.call('HGET', KEYS[1], ${CURSOR})
if ARGV[4] == '1' then
  if cursor ~= ARGV[5] then return ${WRITE_OUTCOME.stale} end
elseif cursor then
  return ${WRITE_OUTCOME.stale}
end
for i = 7, #ARGV, ${CHUNK} do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + ${CHUNK - 1}, #ARGV)))
end
redis.call('HSET', KEYS[1], ${PROGRESS}, ARGV[2], ${CURSOR}, ARGV[3], ${FENCE}, ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return ${WRITE_OUTCOME.written}
`,
);

/** KEYS: jobs hash. ARGV: field. Returns {job or false, progress or false}, one consistent snapshot of one key. */
export const READ_SCRIPT = script(
  "read",
  `
return redis.call('HMGET', KEYS[1], ARGV[1], ${PROGRESS})
`,
);

/** KEYS: jobs hash. ARGV: fields. Returns one value or false per field, in order. */
export const READ_JOBS_SCRIPT = script(
  "readJobs",
  `
local found = {}
for i = 1, #ARGV, ${CHUNK} do
  local part = redis.call('HMGET', KEYS[1], unpack(ARGV, i, math.min(i + ${CHUNK - 1}, #ARGV)))
  for j = 1, #part do found[#found + 1] = part[j] end
end
return found
`,
);

/**
 * KEYS: jobs hash. ARGV: "all", or "some" then fields. Returns, from one
 * key and so one snapshot, for "some" the progress then one value or false
 * per field in order; for "all" the field/value pairs of the whole hash
 * (reserved fields included; the reader sets them apart).
 */
export const READ_JOB_SET_SCRIPT = script(
  "readJobSet",
  `
if ARGV[1] == 'all' then return redis.call('HGETALL', KEYS[1]) end
local found = {redis.call('HGET', KEYS[1], ${PROGRESS})}
for i = 2, #ARGV, ${CHUNK} do
  local part = redis.call('HMGET', KEYS[1], unpack(ARGV, i, math.min(i + ${CHUNK - 1}, #ARGV)))
  for j = 1, #part do found[#found + 1] = part[j] end
end
return found
`,
);

/**
 * KEYS: lease, jobs hash. ARGV: escaped owner, lease ms, data ttl seconds.
 * Takes the lease when free or already ours; holding it keeps the job set's
 * data alive. Returns 0 when another owner holds it, else {fencing token,
 * 1 if the job set's data is stored, its cursor, the token that wrote it}
 * (the last two false when nothing is stored). A new lease's token is the server's
 * clock in microseconds, or one more than the highest token that wrote if
 * that is larger: it grows even when the lease key and the data were lost.
 */
export const LEASE_SCRIPT = script(
  "lease",
  `
local held = redis.call('GET', KEYS[1])
local token
if held then
  local sep = string.find(held, ':', 1, true)
  if not sep or string.sub(held, 1, sep - 1) ~= ARGV[1] then return 0 end
  token = string.sub(held, sep + 1)
else
  local now = redis.call('TIME')
  local next = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local written = tonumber(redis.call('HGET', KEYS[2], ${FENCE}) or '0')
  if written >= next then next = written + 1 end
  token = string.format('%.0f', next)
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
local mark = redis.call('HMGET', KEYS[2], ${CURSOR}, ${FENCE})
return {token, redis.call('EXPIRE', KEYS[2], ARGV[3]), mark[1], mark[2]}
`,
);

/** KEYS: lease. ARGV: escaped owner. Deletes the lease only if the owner holds it. */
export const RELEASE_SCRIPT = script(
  "release",
  `
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. ':' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`,
);

/** Runs a script and resolves with its raw reply (strings, integers, null for Lua false, arrays). */
export type ScriptRunner = (script: LuaScript, keys: readonly string[], args: readonly string[]) => Promise<unknown>;
