import packageJson from "../../package.json" with { type: "json" };
import { serveCommand } from "./serve.js";

const USAGE = `Usage: jobservice <command> [flags]

Commands:
  serve      Run the Job Service (gRPC, gRPC-Web and Connect on one port).
  simulate   Run a local stand-in for Armada's event and submit APIs.
  demo       Run the simulator and the service together and watch a few jobs finish.
  version    Print the version (also --version).
  help       Show this text.

Run "jobservice <command> --help" for a command's flags.
`;

type Command = (argv: readonly string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  serve: serveCommand,
  simulate: async (argv) => (await import("./simulate.js")).simulateCommand([...argv]),
  demo: async (argv) => (await import("./demo.js")).demoCommand(argv),
  version: async () => {
    process.stdout.write(`jobservice ${packageJson.version}\n`);
    return 0;
  },
  help: async () => {
    process.stdout.write(USAGE);
    return 0;
  },
};

const ALIASES: Record<string, string> = { "--help": "help", "-h": "help", "--version": "version", "-v": "version" };

export async function main(argv: readonly string[]): Promise<number> {
  const [name = "help", ...rest] = argv;
  const command = COMMANDS[ALIASES[name] ?? name];
  if (!command) {
    process.stderr.write(`jobservice: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`jobservice: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
