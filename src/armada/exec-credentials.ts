import { spawn } from "node:child_process";
import { Code, ConnectError } from "@connectrpc/connect";
import { decodeJwt } from "jose";
import type { ArmadaCredentials, Authorization, AuthorizationDeps } from "./authorization.js";
import { cachedAuthorization, type IssuedToken } from "./token-cache.js";

type ExecCredentials = Extract<ArmadaCredentials, { kind: "exec" }>;

/** A token is a line, not a document: more output than this is a misbehaving command. */
const MAX_OUTPUT_BYTES = 64 * 1024;
/** A failed run is answered again for this long before the command is run once more. */
const FAILURE_HOLD_MS = 1_000;
/** What a bearer token may contain (RFC 6750 §2.1 b64token is a subset): one header-safe word. */
const TOKEN_SHAPE = /^[\x21-\x7e]+$/;

/**
 * armadactl's execAuth: runs the command (never through a shell) and sends its
 * trimmed stdout as `Bearer <token>`. A JWT is reused until shortly before its
 * own `exp`; any other token for `cacheSeconds`.
 *
 * Neither stdout nor stderr ever reaches an error or a log: a failing helper
 * may print the token, or the secret it was given, on either. Errors say only
 * how the command ended and how much it wrote.
 */
export function execAuthorization(credentials: ExecCredentials, deps: AuthorizationDeps): Authorization {
  const name = JSON.stringify(credentials.command);
  const issue = async (): Promise<IssuedToken> => {
    const token = await run(credentials, `Armada exec credential command ${name}`);
    const now = deps.now();
    const expiresAt = jwtExpiry(token);
    if (expiresAt === undefined) return { value: `Bearer ${token}`, lifetimeMs: credentials.cacheSeconds * 1000 };
    if (expiresAt <= now) {
      throw new ConnectError(`Armada exec credential command ${name} printed a JWT that expired at ${new Date(expiresAt).toISOString()}`, Code.Unauthenticated);
    }
    return { value: `Bearer ${token}`, lifetimeMs: expiresAt - now };
  };
  return cachedAuthorization(issue, { now: deps.now, failureHoldMs: FAILURE_HOLD_MS });
}

/** Milliseconds since the epoch of a JWT's `exp`; undefined for anything else, which is then an opaque token. */
function jwtExpiry(token: string): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function run(credentials: ExecCredentials, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(credentials.command, [...credentials.args], {
      env: { ...process.env, ...credentials.env },
      stdio: ["ignore", "pipe", "pipe"],
      shell: false,
      // Its own process group, so a timeout also ends whatever it started.
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrBytes = 0;
    let settled = false;
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    };
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      killGroup();
      const stderr = stderrBytes > 0 ? ` (stderr: ${stderrBytes} bytes, not shown as it may hold secrets)` : "";
      reject(new ConnectError(`${what} ${reason}${stderr}`, Code.Unavailable));
    };
    const timer = setTimeout(() => fail(`did not finish within ${credentials.timeoutMs} ms and was killed`), credentials.timeoutMs);

    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_OUTPUT_BYTES) return fail(`printed more than ${MAX_OUTPUT_BYTES} bytes and was killed`);
      stdout.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderrBytes += chunk.length;
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      const reason = err.code === "ENOENT" ? "was not found" : err.code === "EACCES" ? "is not executable" : `could not be started (${err.code ?? err.name})`;
      fail(reason);
    });
    child.on("close", (code, signal) => {
      if (settled) return;
      if (signal !== null) return fail(`was killed by ${signal}`);
      if (code !== 0) return fail(`exited with code ${code}`);
      const token = Buffer.concat(stdout).toString("utf8").trim();
      if (token === "") return fail("exited with code 0 but printed no token");
      if (!TOKEN_SHAPE.test(token)) return fail(`exited with code 0 but printed ${stdoutBytes} bytes that are not a single token`);
      settled = true;
      clearTimeout(timer);
      resolve(token);
    });
  });
}
