// Every error the tools raise on purpose. Commands throw these; only the entry point (cli.ts)
// turns them into messages and exit codes, so library code stays reusable and testable.

/**
 * Exit codes follow the usual CLI convention: 0 ok, 1 findings or failure, 2 usage. Usage is
 * everything about how the command was called: an unknown command, flag, environment, image or
 * git ref, a missing or extra argument, a flag given twice. Every command uses this one rule.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Wrong flags or arguments: the user typed something the command does not take. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** One problem with an input, located by file and path inside it. */
export interface Problem {
  file: string;
  path: string;
  message: string;
  /** 1-based line in `file`, when the problem is at a known line (a YAML syntax error). */
  line?: number;
  /** The problem is with how the command was called (an unknown environment or image): exit 2. */
  usage?: boolean;
}

/** Input that does not validate; carries every problem at once, not just the first. */
export class ValidationError extends Error {
  override name = "ValidationError";
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
}

/** A precondition of the working tree or environment is not met (dirty tree, missing token, ...). */
export class PreconditionError extends Error {
  override name = "PreconditionError";
}

/** An external tool (kustomize, git) failed; message holds what it printed, already redacted. */
export class ToolError extends Error {
  override name = "ToolError";
}

/** A problem with a source file that a finding can point at (rule name, file, field path, line). */
export interface SourceProblem extends Problem {
  rule: string;
  line?: number;
}

/**
 * kustomize was not run: the overlay would read from the network or from outside the
 * repository (issue 11, item 7). Carries every problem, each with its file and line.
 */
export class RenderRefusedError extends ToolError {
  override name = "RenderRefusedError";
  constructor(
    readonly dir: string,
    readonly problems: SourceProblem[],
  ) {
    super(`refused to render ${dir}:\n${problems.map((p) => `  ${p.file}${p.line ? `:${p.line}` : ""}: ${p.path ? `${p.path}: ` : ""}${p.message} (${p.rule})`).join("\n")}`);
  }
}

/** kustomize was stopped by its time or memory limit (issue 11, item 8). */
export class RenderLimitError extends ToolError {
  override name = "RenderLimitError";
  constructor(
    readonly dir: string,
    readonly limit: "time" | "memory" | "output",
    message: string,
  ) {
    super(message);
  }
}

/** GitHub refused a request; the message says what to fix. */
export class GitHubError extends Error {
  override name = "GitHubError";
  /** `timedOut`: GitHub did not answer in time (GITOPS_GITHUB_REQUEST_TIMEOUT_S / GITOPS_GITHUB_TIMEOUT_S). */
  constructor(message: string, readonly status?: number, readonly timedOut = false) {
    super(message);
  }
}

export function formatProblem(p: Problem): string {
  const file = p.line !== undefined && !p.path.startsWith("line ") ? `${p.file}:${p.line}` : p.file;
  return p.path ? `${file}: ${p.path}: ${p.message}` : `${file}: ${p.message}`;
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof ValidationError && error.problems.some((p) => p.usage)) return EXIT.usage;
  return EXIT.failure;
}
