// What runs where: every environment (in promotion order) × every image, read from the branch
// Argo CD syncs; how far each environment is behind the one before it; the commit that last
// moved each tag; and, with a GitHub token, the deploy pull requests still open per environment.
import { githubToken } from "../core/secrets.ts";
import { GitHubError, PreconditionError, ValidationError } from "../core/errors.ts";
import { paint } from "../core/term.ts";
import { readImage } from "../edit/kustomization.ts";
import { compareSemver, parseSemver } from "../edit/tag.ts";
import { isAncestor, remoteUrl, showFile, showFiles } from "../git/git.ts";
import { createGitHubClient, redact, resolveRepository } from "../github/client.ts";
import { listOpenPullRequests } from "../github/pull-request.ts";
import { branchPrefix, imageShortNames, parseDeployBranch } from "../release/plan.ts";
import { HOLDS_FILE, parseHolds } from "../release/holds.ts";
import { parseSpecWithLines } from "../spec/load.ts";
import type { Spec } from "../spec/schema.ts";
import { previousGroup, stageIds } from "../spec/stages.ts";

const SPEC_FILE = "overlays/environments.yaml";
import { clip, formatColumns, shortDate, shortSha, type Cell } from "../core/table.ts";
import { kustomizationFile, refLabel, refOf, resolveRevision, sameRef, tagChanges, type TagRef } from "./history.ts";

export interface Comparison {
  environment: string;
  /** behind / ahead of the previous environment, the same, or not comparable. */
  state: "same" | "behind" | "ahead" | "unknown";
  /** How the order was decided: semver of the tags, or which commit set the tag later. */
  by: "semver" | "commit" | null;
  level: "major" | "minor" | "patch" | "prerelease" | null;
  count: number | null;
  text: string;
}

export interface LastChange {
  commit: string;
  date: string;
  author: string;
  subject: string;
  pullRequest: number | null;
}

export interface ImageStatus {
  image: string;
  tag: string | null;
  digest: string | null;
  previous: Comparison | null;
  lastChange: LastChange | null;
}

export interface PullRequestSummary {
  number: number;
  title: string;
  url: string;
  branch: string;
  /** The images it moves, read from its branch (deploy/<env>/<image>[+<image>…]/<tag>); null for another naming. */
  images: string[] | null;
}

export interface EnvironmentStatus {
  name: string;
  file: string;
  images: ImageStatus[];
  /** null when GitHub was not asked (no token) or could not answer. */
  pullRequests: PullRequestSummary[] | null;
}

export interface StatusReport {
  ref: string;
  commit: string;
  environments: EnvironmentStatus[];
  github: { repository: string | null; error: string | null } | null;
  /** The holds (overlays/holds.yaml) at the same revision: what bump-image, promote and rollback refuse to move. */
  holds: { environment: string; image: string | null; reason: string; line: number | null }[];
  /** The spec at the revision read (environments in its promotion order). */
  spec: Spec;
}

/** Semver distance: the first of major, minor, patch that differs, and by how much. */
export function semverDistance(ours: string, theirs: string): { direction: -1 | 0 | 1; level: Comparison["level"]; count: number | null } | undefined {
  const a = parseSemver(ours);
  const b = parseSemver(theirs);
  if (!a || !b) return undefined;
  for (const level of ["major", "minor", "patch"] as const) {
    if (a[level] !== b[level]) return { direction: a[level] < b[level] ? -1 : 1, level, count: Math.abs(a[level] - b[level]) };
  }
  // Same core version: semver's prerelease precedence (rc.10 after rc.9, a release after its rcs).
  const order = compareSemver(ours, theirs) ?? 0;
  if (order === 0) return { direction: 0, level: null, count: null };
  return { direction: order < 0 ? -1 : 1, level: "prerelease", count: null };
}

async function compare(root: string, prevEnv: string, prev: ImageStatus, ours: ImageStatus): Promise<Comparison> {
  const base = { environment: prevEnv };
  const ref = (s: ImageStatus): TagRef => ({ tag: s.tag, digest: s.digest });
  if (sameRef(ref(prev), ref(ours))) return { ...base, state: "same", by: null, level: null, count: null, text: `same as ${prevEnv}` };
  // Equal digests pin the same image whatever the tags say.
  if (ours.digest !== null && ours.digest === prev.digest) return { ...base, state: "same", by: null, level: null, count: null, text: `same digest as ${prevEnv}` };
  const distance = ours.tag !== null && prev.tag !== null ? semverDistance(ours.tag, prev.tag) : undefined;
  if (distance && distance.direction !== 0) {
    const state = distance.direction < 0 ? "behind" : "ahead";
    const how = distance.count === null ? `${distance.level}` : `${distance.count} ${distance.level}`;
    const text = state === "behind" ? `${how} behind ${prevEnv}` : `${how} ahead of ${prevEnv}`;
    return { ...base, state, by: "semver", level: distance.level, count: distance.count, text };
  }
  // Not semver (or the same version with another digest): whichever tag was set later is newer.
  const a = ours.lastChange?.commit;
  const b = prev.lastChange?.commit;
  if (a && b && a !== b) {
    if (await isAncestor(root, a, b)) return { ...base, state: "behind", by: "commit", level: null, count: null, text: `behind ${prevEnv} (older commit)` };
    if (await isAncestor(root, b, a)) return { ...base, state: "ahead", by: "commit", level: null, count: null, text: `ahead of ${prevEnv} (newer commit)` };
  }
  return { ...base, state: "unknown", by: null, level: null, count: null, text: `differs from ${prevEnv}` };
}

export interface StatusOptions {
  env: NodeJS.ProcessEnv;
  ref?: string;
  /** For tests: the unit of GitHub retry waits, in ms. */
  retryDelayMs?: number;
}

export async function environmentStatus(root: string, workingSpec: Spec, options: StatusOptions): Promise<StatusReport> {
  const revision = await resolveRevision(root, workingSpec, options.ref);
  // The environments and images are those of the revision whose overlays are read: a spec edited
  // in the working tree (an environment added, not yet merged) must not be read against main's overlays.
  const specText = (await showFiles(root, [`${revision.commit}:${SPEC_FILE}`]))[0];
  const spec = specText === undefined ? workingSpec : await parseSpecWithLines(specText, `${SPEC_FILE} (${revision.name})`);
  // One row per stage: an environment on several clusters shows each ("prod/prod-eu-canary").
  const envs = stageIds(spec);
  const images = spec.images.map((i) => i.name);
  const token = githubToken(options.env);
  // GitHub is asked while git is read; both are independent.
  const pullsPromise = token ? openPullRequests(root, envs, images, token, options) : Promise.resolve(null);
  pullsPromise.catch(() => undefined);

  const texts = await showFiles(root, envs.map((env) => `${revision.commit}:${kustomizationFile(env)}`));
  const environments: EnvironmentStatus[] = await Promise.all(
    envs.map(async (env, i) => {
      const file = kustomizationFile(env);
      const text = texts[i];
      if (text === undefined) throw new ValidationError([{ file, path: "", message: `the overlay's kustomization.yaml does not exist on ${revision.name}` }]);
      const changes = await tagChanges(root, revision.commit, env, images, { newestOnly: true });
      const statuses = images.map((image): ImageStatus => {
        const ref = refOf(readImage(text, file, image))!;
        const change = changes.find((c) => c.image === image);
        return {
          image,
          tag: ref.tag,
          digest: ref.digest,
          previous: null,
          lastChange: change ? { commit: change.commit, date: change.date, author: change.author, subject: change.subject, pullRequest: change.pullRequest } : null,
        };
      });
      return { name: env, file, images: statuses, pullRequests: null };
    }),
  );
  for (let i = 1; i < environments.length; i++) {
    // Compared with the stage its tags come from: the first of the previous wave or environment.
    const from = previousGroup(spec, environments[i]!.name)[0]?.id;
    const prev = environments.find((e) => e.name === from);
    const cur = environments[i]!;
    if (!prev) continue;
    for (const [j, status] of cur.images.entries()) status.previous = await compare(root, prev.name, prev.images[j]!, status);
  }

  let github: StatusReport["github"] = null;
  if (token) {
    try {
      const { repository, byEnv } = (await pullsPromise)!;
      for (const e of environments) e.pullRequests = byEnv.get(e.name) ?? [];
      github = { repository, error: null };
    } catch (error) {
      if (!(error instanceof GitHubError || error instanceof PreconditionError)) throw error;
      github = { repository: (error as { repository?: string }).repository ?? null, error: redact(error.message, [token]) };
    }
  }
  const holdsText = await showFile(root, revision.commit, HOLDS_FILE);
  const holds = holdsText === undefined ? [] : (await parseHolds(holdsText, spec)).map((h) => ({ environment: h.environment, image: h.image ?? null, reason: h.reason, line: h.line ?? null }));
  return { ref: revision.name, commit: revision.commit, environments, github, holds, spec };
}

/** One listing of the open pull requests, split by the deploy/<env>/ branch prefix. */
async function openPullRequests(root: string, envs: string[], images: string[], token: string, options: StatusOptions): Promise<{ repository: string; byEnv: Map<string, PullRequestSummary[]> }> {
  const { owner, repo } = resolveRepository({ env: options.env, originUrl: await remoteUrl(root) });
  const repository = `${owner}/${repo}`;
  try {
    const octokit = createGitHubClient({ token, baseUrl: options.env.GITHUB_API_URL || undefined, minRetryDelayMs: options.retryDelayMs });
    const pulls = await listOpenPullRequests(octokit, { owner, repo, headPrefix: "deploy/" });
    const byShort = new Map([...imageShortNames(images)].map(([image, short]) => [short, image]));
    const byEnv = new Map<string, PullRequestSummary[]>();
    for (const env of envs) {
      const mine = pulls.filter((p) => p.head.startsWith(branchPrefix(env))).sort((a, b) => a.number - b.number);
      byEnv.set(
        env,
        mine.map((p) => {
          const parsed = parseDeployBranch(p.head, env);
          const moved = parsed?.images.map((short) => byShort.get(short));
          return { number: p.number, title: p.title, url: p.url, branch: p.head, images: moved && moved.every((i) => i !== undefined) ? (moved as string[]) : null };
        }),
      );
    }
    return { repository, byEnv };
  } catch (error) {
    if (error instanceof GitHubError) Object.assign(error, { repository });
    throw error;
  }
}

/** The documented JSON: keys in a fixed order, whatever the objects were built with. */
export function statusJson(report: StatusReport): string {
  const value = {
    ref: report.ref,
    commit: report.commit,
    environments: report.environments.map((e) => ({
      name: e.name,
      file: e.file,
      images: e.images.map((i) => ({
        image: i.image,
        tag: i.tag,
        digest: i.digest,
        previous: i.previous && {
          environment: i.previous.environment,
          state: i.previous.state,
          by: i.previous.by,
          level: i.previous.level,
          count: i.previous.count,
          text: i.previous.text,
        },
        lastChange: i.lastChange && {
          commit: i.lastChange.commit,
          date: i.lastChange.date,
          author: i.lastChange.author,
          subject: i.lastChange.subject,
          pullRequest: i.lastChange.pullRequest,
        },
      })),
      pullRequests: e.pullRequests && e.pullRequests.map((p) => ({ number: p.number, title: p.title, url: p.url, branch: p.branch, images: p.images })),
    })),
    github: report.github && { repository: report.github.repository, error: report.github.error },
    holds: report.holds.map((h) => ({ environment: h.environment, image: h.image, reason: h.reason, line: h.line })),
  };
  return `${JSON.stringify(value, null, 2)}\n`;
}

const STATE_COLOUR = { same: "green", behind: "yellow", ahead: "cyan", unknown: "yellow" } as const;

export function statusText(report: StatusReport, spec: Spec, colour: boolean): string {
  const images = spec.images.map((i) => i.name);
  const many = images.length > 1;
  const withPulls = report.github !== null && report.github.error === null;
  const lines: string[] = [];
  lines.push(`${paint("Environments", "bold", colour)} on ${report.ref} (${shortSha(report.commit)}), in promotion order`);
  if (!many) lines.push(paint(`image ${images[0]}`, "dim", colour));
  lines.push("");
  const rows: Cell[][] = [];
  for (const env of report.environments) {
    env.images.forEach((s, j) => {
      const versus: Cell = s.previous === null ? { text: "first stage", colour: "dim" } : { text: s.previous.text, colour: STATE_COLOUR[s.previous.state] };
      const change = s.lastChange;
      // Per image: the pull requests that move it (a multi-image promote shows on each of its
      // images); one of another branch naming shows on the environment's first row.
      const pulls = (env.pullRequests ?? [])
        .filter((p) => (p.images ? p.images.includes(s.image) : j === 0))
        .map((p) => `#${p.number} ${p.branch.slice(branchPrefix(env.name).length)}`)
        .join(", ");
      rows.push([
        j === 0 ? { text: env.name, colour: "bold" } : "",
        ...(many ? [s.image] : []),
        { text: refLabel(s, true), colour: "bold" },
        versus,
        change ? { text: shortSha(change.commit), colour: "cyan" } : "—",
        change ? shortDate(change.date) : "",
        change?.pullRequest ? `#${change.pullRequest}` : change ? "—" : "",
        ...(withPulls ? [pulls ? { text: pulls, colour: "cyan" as const } : "none"] : []),
      ]);
    });
  }
  const headers = ["ENVIRONMENT", ...(many ? ["IMAGE"] : []), "RUNS", "VERSUS PREVIOUS", "CHANGED", "DATE", "PR", ...(withPulls ? ["OPEN DEPLOY PRS"] : [])];
  lines.push(formatColumns(headers, rows, colour).trimEnd());
  lines.push("");
  for (const h of report.holds) {
    lines.push(`${paint("held", "yellow", colour)}: ${h.environment} (${h.image ?? "every image"}): ${h.reason}  ${paint(`${HOLDS_FILE}:${h.line ?? ""}`, "dim", colour)}`);
  }
  if (report.holds.length) lines.push("");
  if (report.github === null) lines.push(paint("Open deploy pull requests: set GITHUB_TOKEN to list them.", "dim", colour));
  else if (report.github.error !== null) lines.push(`${paint("warning", "yellow", colour)}: open pull requests could not be listed: ${report.github.error}`);
  else {
    const open = report.environments.flatMap((e) => e.pullRequests ?? []);
    if (open.length) {
      lines.push(`Open deploy pull requests on ${report.github.repository}:`);
      for (const p of open) lines.push(`  #${p.number}  ${clip(p.title, 70)}  ${paint(p.url, "dim", colour)}`);
    } else lines.push(`No open deploy pull requests on ${report.github.repository}.`);
  }
  return `${lines.join("\n")}\n`;
}
