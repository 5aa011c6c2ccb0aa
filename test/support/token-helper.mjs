// A credential helper for armadactl's execAuth, for tests: `node token-helper.mjs MODE ARGS…`.
// Every run appends a line to $TOKEN_HELPER_RUNS when set, so tests can count runs.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";

const [mode, ...rest] = process.argv.slice(2);
if (process.env.TOKEN_HELPER_RUNS) appendFileSync(process.env.TOKEN_HELPER_RUNS, `${process.pid}\n`);

const b64url = (value) => Buffer.from(value).toString("base64url");

switch (mode) {
  // Prints the token as given, with surrounding whitespace the service must trim.
  case "token":
    process.stdout.write(`  ${rest[0]}\n\n`);
    break;
  // Prints the value of an environment variable.
  case "env":
    process.stdout.write(`${process.env[rest[0]] ?? ""}\n`);
    break;
  // Prints its arguments, encoded, so a test can see them exactly as received (no shell in between).
  case "args":
    process.stdout.write(`${b64url(JSON.stringify(rest))}\n`);
    break;
  // Prints a JWT expiring SECONDS from now (signature not checked by anyone here).
  case "jwt": {
    const exp = Math.floor(Date.now() / 1000) + Number(rest[0]);
    process.stdout.write(`${b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))}.${b64url(JSON.stringify({ sub: rest[1] ?? "helper", exp }))}.c2ln\n`);
    break;
  }
  // Prints TEXT on both stdout and stderr and exits with CODE: what a helper that leaks its secret looks like.
  case "fail":
    process.stdout.write(`${rest[1]}\n`);
    process.stderr.write(`error: ${rest[1]}\n`);
    process.exitCode = Number(rest[0]);
    break;
  // Prints the contents of PATH; until it exists, complains on stderr with TEXT and exits with code 4.
  case "file":
    try {
      process.stdout.write(readFileSync(rest[0], "utf8"));
    } catch {
      process.stderr.write(`no token yet: ${rest[1]}\n`);
      process.exitCode = 4;
    }
    break;
  // Starts a grandchild, writes both process ids to PIDFILE, then never finishes.
  case "hang": {
    const grandchild = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    writeFileSync(rest[0], `${process.pid} ${grandchild.pid}`);
    setInterval(() => {}, 1000);
    break;
  }
  default:
    process.stderr.write(`unknown mode ${mode}\n`);
    process.exitCode = 64;
}
