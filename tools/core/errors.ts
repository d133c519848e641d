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

/** Edit distance with adjacent transpositions (optimal string alignment): "hsot" is 1 from "host". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate a mistyped name most likely meant: the same ignoring case, or the closest within a
 * third of its length (at least one edit); undefined when nothing is that close.
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const same = candidates.find((c) => c.toLowerCase() === lower);
  if (same !== undefined) return same;
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  return best && best.d <= Math.max(1, Math.floor(Math.max(name.length, best.c.length) / 3)) ? best.c : undefined;
}

/** ` (did you mean "x"?)` when a candidate is close, else "". */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const c = closest(name, candidates);
  return c === undefined ? "" : ` (did you mean ${JSON.stringify(c)}?)`;
}

/** `unknown <what> "<name>" (did you mean "x"?); <plural>: a, b`: the one message for a name that matches nothing. */
export function unknownName(what: string, name: string, candidates: readonly string[], plural = `${what}s`): string {
  return `unknown ${what} ${JSON.stringify(name)}${didYouMean(name, candidates)}; ${plural}: ${candidates.length ? candidates.join(", ") : "(none)"}`;
}
