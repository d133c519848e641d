// Promotion gates: what a move into a gated environment must pass before anything is written.
//  - soak: the tag ran in the previous stage at least `gates.soak`, timed by git (below);
//  - checks: the commit that put it there has green required checks on GitHub (the combined
//    commit status and the check runs: GitHub has two systems, and a workflow job reports as a
//    check run while external CI often posts a status);
//  - windows: no freeze window of the environment is open (tools/spec/gates.ts).
// Each refusal can be overridden only by `--override <gate>=<reason>`; the reason goes into the
// commit message and the pull-request body, and the deploy branch gets a commit status of its
// own (context `gates`) so branch protection can require it.
import { PreconditionError, UsageError, ValidationError } from "../core/errors.ts";
import { formatDuration, parseDuration } from "../core/duration.ts";
import { git, remoteUrl } from "../git/git.ts";
import type { GitHubClient } from "../github/client.ts";
import { githubToken } from "../core/secrets.ts";
import { refLabel, resolveRevision, tagChanges, type TagChange } from "../ops/history.ts";
import type { ImageRef } from "../edit/kustomization.ts";
import { openWindow } from "../spec/gates.ts";
import type { Spec } from "../spec/schema.ts";
import { previousGroup, stageEnvironment } from "../spec/stages.ts";

export const GATE_NAMES = ["soak", "checks", "window"] as const;
export type GateName = (typeof GATE_NAMES)[number];

export interface GateResult {
  gate: GateName;
  /** passed; failed; unverified (could not be answered, refuses like failed); overridden (failed or unverified, then overridden). */
  status: "passed" | "failed" | "unverified" | "overridden";
  detail: string;
  /** The reason given with --override, when one was. */
  override?: string;
}

export interface GateReport {
  env: string;
  /** The stage whose run the soak and checks gates look at. */
  previous?: string;
  results: GateResult[];
  passed: boolean;
  /** The time the gates were evaluated at, and where it came from. */
  now: string;
  clock: "system" | "GITOPS_NOW";
}

/** A move refused by its gates; `report` says which and why. */
export class GateRefusal extends PreconditionError {
  override name = "GateRefusal";
  constructor(readonly report: GateReport) {
    super(`the gates of ${report.env} refuse this move:\n${gatesText(report)}\nWait, fix the cause, or override one gate with --override <gate>="<reason>" (the reason is recorded in the commit and the pull request).`);
  }
}

/**
 * The time gates are evaluated at. GITOPS_NOW (an ISO 8601 time) exists for tests, which
 * promote tags they created a second ago; when it is set the report says so, in the pull
 * request and the commit message, so it cannot hide a skipped soak.
 */
export function gateClock(env: NodeJS.ProcessEnv): { now: Date; clock: GateReport["clock"] } {
  const text = env.GITOPS_NOW;
  if (text === undefined || text === "") return { now: new Date(), clock: "system" };
  const now = new Date(text);
  if (Number.isNaN(now.getTime())) throw new UsageError(`GITOPS_NOW=${JSON.stringify(text)} is not an ISO 8601 time (e.g. 2026-12-01T10:00:00Z)`);
  return { now, clock: "GITOPS_NOW" };
}

/** `--override soak="reason"` values into a map; a usage error for anything else. */
export function parseOverrides(values: string[] | undefined): Map<GateName, string> {
  const out = new Map<GateName, string>();
  for (const value of values ?? []) {
    const eq = value.indexOf("=");
    const gate = (eq < 0 ? value : value.slice(0, eq)).trim();
    const reason = eq < 0 ? "" : value.slice(eq + 1).trim();
    if (!(GATE_NAMES as readonly string[]).includes(gate)) throw new UsageError(`--override ${JSON.stringify(value)}: unknown gate ${JSON.stringify(gate)}; gates: ${GATE_NAMES.join(", ")}`);
    if (!reason) throw new UsageError(`--override ${gate} needs a reason: --override ${gate}="why this is safe" (it goes into the commit and the pull request)`);
    if (out.has(gate as GateName)) throw new UsageError(`--override ${gate} is given twice`);
    out.set(gate as GateName, reason);
  }
  return out;
}

export interface GateRequest {
  env: string;
  /** The refs the move puts into `env`. */
  moves: { image: string; after: ImageRef }[];
  overrides: Map<GateName, string>;
  processEnv: NodeJS.ProcessEnv;
  /** For tests: the unit of GitHub retry waits, in ms. */
  retryDelayMs?: number;
}

/** Whether the environment declares any gate (an empty `gates: {}` declares none). */
export function hasGates(spec: Spec, env: string): boolean {
  const g = stageEnvironment(spec, env)?.gates;
  return !!g && (g.soak !== undefined || g.checks.length > 0 || g.windows.length > 0);
}

function sameTarget(change: TagChange, ref: ImageRef): boolean {
  if (ref.digest !== undefined && change.digest !== ref.digest) return false;
  if (ref.newTag !== undefined && change.tag !== ref.newTag) return false;
  return ref.digest !== undefined || ref.newTag !== undefined;
}

/**
 * When a commit reached the default branch, by git's clock. The committer date of the
 * first-parent commit on the default branch is when GitHub merged the pull request (a merge,
 * squash or rebase-merge commit is created at merge time); the author date is when someone
 * first wrote the change, and a rebase or an amend keeps it, so it is never used. A commit cannot
 * exist before its parents, so the newest committer date among the commit and its ancestors is a
 * lower bound that also defeats one commit with a clock skewed into the past. What git cannot tell
 * is when a locally made commit was pushed: fast-forward pushes to the default branch must be
 * disallowed (branch protection: pull requests required), as they are for every deploy here.
 */
export async function landedAt(root: string, commit: string): Promise<Date> {
  const out = await git(root, ["log", "--format=%ct", commit]);
  let newest = 0;
  for (const line of out.split("\n")) if (line) newest = Math.max(newest, Number(line));
  return new Date(newest * 1000);
}

interface GitHubAccess {
  octokit?: GitHubClient;
  owner?: string;
  repo?: string;
  /** Why GitHub could not be asked, when it could not. */
  problem?: string;
}

async function githubAccess(root: string, request: GateRequest): Promise<GitHubAccess> {
  const token = githubToken(request.processEnv);
  if (!token) return { problem: "no GitHub token is set (GITHUB_TOKEN)" };
  const { createGitHubClient, resolveRepository } = await import("../github/client.ts");
  try {
    const { owner, repo } = resolveRepository({ env: request.processEnv, originUrl: await remoteUrl(root) });
    const octokit = createGitHubClient({ token, minRetryDelayMs: request.retryDelayMs, baseUrl: request.processEnv.GITHUB_API_URL || undefined });
    return { octokit, owner, repo };
  } catch (error) {
    return { problem: (error as Error).message };
  }
}

type CheckState = "success" | "pending" | "failure" | "missing";

/** The state of each required check on `sha`: commit statuses (by context) and check runs (by name). */
async function requiredChecks(gh: Required<Omit<GitHubAccess, "problem">>, sha: string, required: string[]): Promise<Map<string, { state: CheckState; seen: string }>> {
  const { octokit, owner, repo } = gh;
  const combined = (await octokit.rest.repos.getCombinedStatusForRef({ owner, repo, ref: sha, per_page: 100 })).data;
  const runs = await octokit.paginate(octokit.rest.checks.listForRef, { owner, repo, ref: sha, per_page: 100 });
  const out = new Map<string, { state: CheckState; seen: string }>();
  for (const name of required) {
    const status = combined.statuses.find((s) => s.context === name);
    // A re-run adds a check run of the same name: the newest one counts.
    const run = runs.filter((r) => r.name === name).sort((a, b) => b.id - a.id)[0];
    const states: { state: CheckState; seen: string }[] = [];
    if (status) {
      const state: CheckState = status.state === "success" ? "success" : status.state === "pending" ? "pending" : "failure";
      states.push({ state, seen: `status ${status.state}` });
    }
    if (run) {
      const state: CheckState =
        run.status !== "completed" ? "pending" : ["success", "neutral", "skipped"].includes(run.conclusion ?? "") ? "success" : "failure";
      states.push({ state, seen: run.status === "completed" ? `check run ${run.conclusion}` : `check run ${run.status}` });
    }
    // Both present (a workflow that also posts a status): both must be green.
    const worst = states.find((s) => s.state === "failure") ?? states.find((s) => s.state === "pending") ?? states[0];
    out.set(name, worst ?? { state: "missing", seen: "not reported" });
  }
  return out;
}

export async function evaluateGates(root: string, spec: Spec, request: GateRequest): Promise<GateReport> {
  const { env, overrides } = request;
  // A cluster's stage has its environment's gates (or its own), and its previous stage is the
  // wave before it (a canary soaks before the rest): tools/spec/stages.ts.
  const gates = stageEnvironment(spec, env)?.gates;
  const previous = previousGroup(spec, env)[0]?.id;
  const { now, clock } = gateClock(request.processEnv);
  const declared = new Set<GateName>();
  if (gates?.soak !== undefined) declared.add("soak");
  if (gates?.checks.length) declared.add("checks");
  if (gates?.windows.length) declared.add("window");
  const unknown = [...overrides.keys()].filter((g) => !declared.has(g));
  if (unknown.length) {
    throw new ValidationError(
      unknown.map((g) => ({ file: "<arguments>", path: "--override", message: `${env} declares no ${g} gate to override; its gates: ${[...declared].join(", ") || "none"}` })),
    );
  }
  const results: GateResult[] = [];

  // Where each moved ref entered the previous stage (soak and checks both start from there).
  const entries = new Map<string, { change?: TagChange; until?: TagChange }>();
  if ((declared.has("soak") || declared.has("checks")) && previous) {
    const revision = await resolveRevision(root, spec);
    for (const move of request.moves) {
      const changes = await tagChanges(root, revision.commit, previous, [move.image]);
      const at = changes.findIndex((c) => sameTarget(c, move.after));
      entries.set(move.image, at < 0 ? {} : { change: changes[at], until: at > 0 ? changes[at - 1] : undefined });
    }
  }
  const never = (image: string, ref: ImageRef) => `${image} ${refLabel({ tag: ref.newTag ?? null, digest: ref.digest ?? null })} never ran in ${previous} (its overlay's history on ${spec.targetRevision})`;

  if (declared.has("soak") && previous) {
    const need = parseDuration(gates!.soak!)!;
    const parts: string[] = [];
    let ok = true;
    for (const move of request.moves) {
      const { change, until } = entries.get(move.image) ?? {};
      if (!change) {
        ok = false;
        parts.push(never(move.image, move.after));
        continue;
      }
      const since = await landedAt(root, change.commit);
      const end = until ? await landedAt(root, until.commit) : now;
      const ran = end.getTime() - since.getTime();
      const label = refLabel(change);
      const still = until ? `until ${until.commit.slice(0, 12)} replaced it` : "so far";
      if (ran >= need) parts.push(`${label} ran in ${previous} for ${formatDuration(ran)} ${still} (since ${since.toISOString()}, commit ${change.commit.slice(0, 12)}); ${gates!.soak} required`);
      else {
        ok = false;
        const left = until ? "it no longer runs there, so it cannot soak any longer" : `${formatDuration(need - ran)} remaining`;
        parts.push(`${label} has run in ${previous} for ${formatDuration(Math.max(0, ran))} ${still} (since ${since.toISOString()}, commit ${change.commit.slice(0, 12)}); ${gates!.soak} required: ${left}`);
      }
    }
    results.push({ gate: "soak", status: ok ? "passed" : "failed", detail: parts.join("; ") });
  }

  if (declared.has("checks") && previous) {
    const required = gates!.checks;
    const commits = [...new Set([...entries.values()].map((e) => e.change?.commit).filter((c): c is string => !!c))];
    const missingMoves = request.moves.filter((m) => !entries.get(m.image)?.change);
    if (missingMoves.length) {
      results.push({ gate: "checks", status: "failed", detail: missingMoves.map((m) => `${never(m.image, m.after)}: no commit to read checks from`).join("; ") });
    } else {
      const gh = await githubAccess(root, request);
      if (gh.problem || !gh.octokit) {
        results.push({ gate: "checks", status: "unverified", detail: `${required.join(", ")} on ${commits.map((c) => c.slice(0, 12)).join(", ")} could not be verified: ${gh.problem}` });
      } else {
        const parts: string[] = [];
        let ok = true;
        try {
          for (const sha of commits) {
            const states = await requiredChecks(gh as Required<Omit<GitHubAccess, "problem">>, sha, required);
            const shown = [...states].map(([name, s]) => `${name}: ${s.state === "success" ? "green" : s.state} (${s.seen})`);
            if ([...states.values()].some((s) => s.state !== "success")) ok = false;
            parts.push(`${sha.slice(0, 12)}: ${shown.join(", ")}`);
          }
          results.push({ gate: "checks", status: ok ? "passed" : "failed", detail: parts.join("; ") });
        } catch (error) {
          const { describeGitHubError } = await import("../github/client.ts");
          const message = describeGitHubError(error, { owner: gh.owner!, repo: gh.repo! }).message;
          results.push({ gate: "checks", status: "unverified", detail: `the checks of ${commits.map((c) => c.slice(0, 12)).join(", ")} could not be read: ${message}` });
        }
      }
    }
  }

  if (declared.has("window")) {
    const open: string[] = [];
    for (const [i, w] of gates!.windows.entries()) {
      const hit = openWindow(w, now);
      if (hit) open.push(`freeze window ${w.name ? JSON.stringify(w.name) : `#${i + 1}`} ("${w.schedule}" ${w.timeZone}, ${w.duration}) is open since ${hit.opened.toISOString()} until ${hit.closes.toISOString()} (${formatDuration(hit.closes.getTime() - now.getTime())} remaining)`);
    }
    results.push({ gate: "window", status: open.length ? "failed" : "passed", detail: open.length ? open.join("; ") : `no freeze window open at ${now.toISOString()}` });
  }

  for (const r of results) {
    const reason = overrides.get(r.gate);
    if (reason === undefined) continue;
    r.override = reason;
    if (r.status !== "passed") r.status = "overridden";
  }
  return { env, previous, results, passed: results.every((r) => r.status === "passed" || r.status === "overridden"), now: now.toISOString(), clock };
}

const MARK: Record<GateResult["status"], string> = { passed: "✓", failed: "✗", unverified: "?", overridden: "!" };

export function gatesText(report: GateReport): string {
  if (report.results.length === 0) return `  ${report.env} declares no gates\n`;
  return report.results
    .map((r) => `  ${MARK[r.status]} ${r.gate}: ${r.status}: ${r.detail}${r.override !== undefined ? `\n    override: ${r.override}` : ""}`)
    .join("\n")
    .concat("\n");
}

/** Appended to the commit message: every gate's result and every override's reason. */
export function gatesCommitText(report: GateReport): string {
  if (report.results.length === 0) return "";
  const lines = report.results.map((r) => `Gate ${r.gate}: ${r.status}${r.override !== undefined ? ` (override: ${r.override})` : ""}`);
  if (report.clock === "GITOPS_NOW") lines.push(`Gates evaluated at GITOPS_NOW=${report.now}, not the system clock`);
  return `\n${lines.join("\n")}\n`;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The pull-request body's (and job summary's) gates section. */
export function gatesMarkdown(report: GateReport): string {
  if (report.results.length === 0) return `### Gates\n\n${report.env} declares no gates (\`environments.${report.env}.gates\` in the spec).\n`;
  const rows = report.results.map((r) => `| ${r.gate} | ${MARK[r.status]} ${r.status} | ${cell(r.detail)} | ${r.override !== undefined ? cell(r.override) : ""} |`);
  const clock = report.clock === "GITOPS_NOW" ? `\n\n**Evaluated at \`GITOPS_NOW=${report.now}\`**, not the system clock.` : ` Evaluated at ${report.now}.`;
  return [`### Gates into ${report.env}${report.passed ? "" : ": refused"}`, "", "| Gate | Result | Detail | Override reason |", "| --- | --- | --- | --- |", ...rows, "", `Soak and checks look at ${report.previous ?? "the previous stage"}.${clock}`, ""].join("\n");
}

/** The `gates` commit status: one line GitHub shows next to the check (at most 140 characters). */
export function gatesStatus(report: GateReport | undefined, what: string): { state: "success" | "failure"; description: string } {
  if (!report || report.results.length === 0) return { state: "success", description: `${what}: no gates declared` };
  const text = report.results.map((r) => `${r.gate} ${r.status}`).join(", ");
  return { state: report.passed ? "success" : "failure", description: `${what}: ${text}`.slice(0, 140) };
}

/** Sets the `gates` commit status on the pushed deploy commit, through the one client. */
export async function setGatesStatus(root: string, processEnv: NodeJS.ProcessEnv, sha: string, status: { state: "success" | "failure"; description: string }, retryDelayMs?: number): Promise<void> {
  const token = githubToken(processEnv);
  if (!token) return;
  const { createGitHubClient, describeGitHubError, resolveRepository } = await import("../github/client.ts");
  const { owner, repo } = resolveRepository({ env: processEnv, originUrl: await remoteUrl(root) });
  const octokit = createGitHubClient({ token, minRetryDelayMs: retryDelayMs, baseUrl: processEnv.GITHUB_API_URL || undefined });
  try {
    await octokit.rest.repos.createCommitStatus({ owner, repo, sha, state: status.state, context: "gates", description: status.description });
  } catch (error) {
    throw describeGitHubError(error, { owner, repo });
  }
}
