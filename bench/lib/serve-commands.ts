import { createInterface } from "node:readline";

export type CommandHandlers = Record<string, (args: never) => Promise<unknown>>;

/**
 * The child side of `startChild`: announces readiness on stdout, answers each
 * JSON command line, and runs `shutdown` then exits when stdin closes (so a
 * bench process never outlives the harness).
 */
export function serveCommands(ready: unknown, handlers: CommandHandlers, shutdown: () => Promise<void>): void {
  const write = (value: unknown): void => {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  };
  write({ ready });
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const { id, command, args } = JSON.parse(line) as { id: number; command: string; args: unknown };
    const handler = handlers[command];
    if (!handler) {
      write({ id, error: `unknown command ${command}` });
      return;
    }
    handler(args as never).then(
      (result) => write({ id, result: result ?? null }),
      (error: unknown) => write({ id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  lines.once("close", () => {
    const force = setTimeout(() => process.exit(0), 5_000);
    force.unref();
    void shutdown().finally(() => process.exit(0));
  });
}

/** The options the harness passed as the process's one argument. */
export function processOptions<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error("expected the options as a JSON argument");
  return JSON.parse(raw) as T;
}
