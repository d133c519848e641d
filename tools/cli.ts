// The one entry point behind every pnpm script: parses flags, calls one command function, and
// turns errors into messages and exit codes (0 ok, 1 findings or failure, 2 usage).
import { dirname, resolve } from "node:path";
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
  /** How many positional arguments the command takes at most (default: the command checks itself). */
  maxPositionals?: number;
  run(ctx: CommandContext): Promise<number>;
}

const GLOBAL_OPTIONS = {
  help: { type: "boolean", short: "h" },
  root: { type: "string" },
} as const;

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "Usage: pnpm <command> [options]   (or: node bin/gitops.mjs <command> [options])",
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
    const options = { ...GLOBAL_OPTIONS, ...command.options };
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true, tokens: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (parsed.values.help) {
      out(commandHelp(command));
      return EXIT.ok;
    }
    // A value flag given twice: parseArgs keeps the last one silently, which hides a mistake
    // (`--env staging --env prod` deploys prod).
    const seen = new Set<string>();
    for (const token of parsed.tokens ?? []) {
      if (token.kind !== "option") continue;
      const option = (options as Record<string, { type: string; multiple?: boolean }>)[token.name];
      if (option?.type !== "string" || option.multiple) continue;
      if (seen.has(token.name)) throw new UsageError(`--${token.name} was given more than once`);
      seen.add(token.name);
    }
    if (command.maxPositionals !== undefined && parsed.positionals.length > command.maxPositionals) {
      throw new UsageError(
        command.maxPositionals === 0 ? `${command.name} takes no arguments, got ${parsed.positionals.map((p) => JSON.stringify(p)).join(" ")}` : `unexpected argument ${JSON.stringify(parsed.positionals[command.maxPositionals])}`,
      );
    }
    const root = resolveRoot(parsed.values.root as string | undefined, env);
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

/**
 * --root as the caller meant it. pnpm runs a script in the package's directory, so a relative
 * path is resolved from where pnpm was called (INIT_CWD), but only when this process is that
 * script (its working directory is the package pnpm named); otherwise from the working directory.
 */
export function resolveRoot(root: string | undefined, env: NodeJS.ProcessEnv, cwd = process.cwd()): string {
  if (root === undefined) return cwd;
  if (root.trim() === "") throw new UsageError("--root needs a directory, got an empty string");
  const runByPackageManager = env.INIT_CWD && env.npm_package_json && resolve(dirname(env.npm_package_json)) === resolve(cwd);
  return resolve(runByPackageManager ? env.INIT_CWD! : cwd, root);
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

/**
 * Runs the CLI as this process: the exit code goes to process.exitCode. Called below when this
 * file is the main module (`node --import tsx tools/cli.ts ...`) and by the launcher
 * (bin/gitops.mjs), which imports a bundle of this file (or this file through tsx) and calls it.
 */
export function runCli(argv: string[]): Promise<void> {
  // `pnpm status | head -3`: the reader went away; that is not a failure worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  return main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${String(error)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}

// Run when executed directly (tsx tools/cli.ts ...), not when imported by tests or the launcher.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void runCli(process.argv.slice(2));
