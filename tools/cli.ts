// The one entry point behind every pnpm script: parses flags, calls one command function, and
// turns errors into messages and exit codes (0 ok, 1 findings or failure, 2 usage).
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { EXIT, GitHubError, PreconditionError, ToolError, UsageError, ValidationError, exitCodeFor } from "./core/errors.ts";
import { commandFinished } from "./core/process.ts";
import { paint, useColour } from "./core/term.ts";
import { commands } from "./commands/index.ts";

export interface CommandContext {
  /** Parsed flags and positionals. */
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  root: string;
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  colour: boolean;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Option help lines, shown by --help. */
  help: string;
  options: ParseArgsConfig["options"];
  run(ctx: CommandContext): Promise<number>;
}

const GLOBAL_OPTIONS = {
  help: { type: "boolean", short: "h" },
  root: { type: "string" },
} as const;

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "Usage: pnpm <command> [options]   (or: tsx tools/cli.ts <command> [options])",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Every command takes --help, and --root <dir> to work on another checkout (default: the current directory).",
    "",
  ].join("\n");
}

function commandHelp(c: Command): string {
  return `Usage: ${c.usage}\n\n${c.summary}\n\nOptions:\n${c.help}  -h, --help        show this help\n      --root <dir>  repository to work on (default: current directory)\n`;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = (t: string) => void process.stdout.write(t);
  const err = (t: string) => void process.stderr.write(t);
  const colour = useColour(process.stdout);
  const errColour = useColour(process.stderr);
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    out(topHelp());
    return name ? EXIT.ok : EXIT.usage;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    err(`error: unknown command "${name}"\n\n${topHelp()}`);
    return EXIT.usage;
  }
  const command = await entry.load();
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (parsed.values.help) {
      out(commandHelp(command));
      return EXIT.ok;
    }
    const root = resolve(typeof parsed.values.root === "string" ? parsed.values.root : process.cwd());
    return await command.run({ values: parsed.values as CommandContext["values"], positionals: parsed.positionals, root, env, stdout: out, stderr: err, colour });
  } catch (error) {
    // With --json a script reads stdout: the error goes there too, as JSON (and on stderr for people).
    if (rest.includes("--json")) out(`${JSON.stringify(errorJson(error), null, 2)}\n`);
    const label = paint("error", "red", errColour);
    if (error instanceof UsageError) err(`${label}: ${error.message}\nRun \`pnpm ${command.name} --help\` for usage.\n`);
    else if (error instanceof ValidationError) err(`${label}: invalid input\n${error.message.split("\n").map((l) => `  ${l}`).join("\n")}\n`);
    else if (error instanceof PreconditionError || error instanceof ToolError || error instanceof GitHubError) err(`${label}: ${error.message}\n`);
    else err(`${label}: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`);
    return exitCodeFor(error);
  } finally {
    commandFinished();
  }
}

function errorJson(error: unknown): Record<string, unknown> {
  const e = error as Error;
  return {
    ok: false,
    error: {
      type: e?.name ?? "Error",
      message: e?.message ?? String(error),
      ...(error instanceof ValidationError ? { problems: error.problems } : {}),
    },
  };
}

// Run when executed directly (tsx tools/cli.ts ...), not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${String(error)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}
