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

/**
 * KEYS: jobs hash, progress. ARGV: ttl seconds, encoded progress, then field/value pairs.
 * Writes the jobs before the cursor: a WRONGTYPE error stops the script before anything changed.
 */
export const WRITE_SCRIPT = script(
  "write",
  `
for i = 3, #ARGV, ${CHUNK} do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + ${CHUNK - 1}, #ARGV)))
end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`,
);

/** KEYS: jobs hash, progress. ARGV: field. Returns {job or false, progress or false}, one consistent snapshot. */
export const READ_SCRIPT = script(
  "read",
  `
return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('GET', KEYS[2])}
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
 * KEYS: jobs hash, progress. ARGV: "all", or "some" then fields.
 * Returns {progress or false, values}: for "some" one value or false per
 * field in order; for "all" field/value pairs of every job. One snapshot.
 */
export const READ_JOB_SET_SCRIPT = script(
  "readJobSet",
  `
local progress = redis.call('GET', KEYS[2])
if ARGV[1] == 'all' then return {progress, redis.call('HGETALL', KEYS[1])} end
local found = {}
for i = 2, #ARGV, ${CHUNK} do
  local part = redis.call('HMGET', KEYS[1], unpack(ARGV, i, math.min(i + ${CHUNK - 1}, #ARGV)))
  for j = 1, #part do found[#found + 1] = part[j] end
end
return {progress, found}
`,
);

/**
 * KEYS: lease, jobs hash, progress. ARGV: owner, lease ms, data ttl seconds.
 * Takes the lease when free or already ours; holding it keeps the job set's data alive.
 */
export const LEASE_SCRIPT = script(
  "lease",
  `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return 1
`,
);

/** KEYS: lease. ARGV: owner. Deletes the lease only if the owner holds it. */
export const RELEASE_SCRIPT = script(
  "release",
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`,
);

/** Runs a script and resolves with its raw reply (strings, integers, null for Lua false, arrays). */
export type ScriptRunner = (script: LuaScript, keys: readonly string[], args: readonly string[]) => Promise<unknown>;
