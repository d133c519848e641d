// The tags an environment has run, read from the git history of its overlay: every commit of the
// default branch's first-parent history whose change altered an image's tag or digest. On the
// default branch a merged pull request is its merge commit (or a squash commit), so the entries
// are deploys, each with the pull request that made it.
import { UsageError, ValidationError } from "../core/errors.ts";
import { clip, formatColumns, shortDate, shortSha, type Cell } from "../core/table.ts";
import { paint } from "../core/term.ts";
import { readImage, type ImageRef } from "../edit/kustomization.ts";
import { firstParentLog, git, revParse, showFiles, type CommitEntry } from "../git/git.ts";
import type { Spec } from "../spec/schema.ts";
import { stageEnvironment } from "../spec/stages.ts";

export interface TagRef {
  tag: string | null;
  digest: string | null;
}

/** One change of one image's tag or digest in an environment. Keys in this order in JSON. */
export interface TagChange {
  image: string;
  tag: string | null;
  digest: string | null;
  /** What the image ran before this commit; null when the commit introduced the entry. */
  previous: TagRef | null;
  commit: string;
  date: string;
  author: string;
  subject: string;
  pullRequest: number | null;
  merge: boolean;
}

export interface Revision {
  /** What was asked for or chosen: "main", "origin/main", "HEAD", a sha. */
  name: string;
  commit: string;
}

export function kustomizationFile(env: string): string {
  return `overlays/${env}/kustomization.yaml`;
}

/**
 * The revision whose history counts: `--ref` when given; else the branch Argo CD syncs
 * (spec.targetRevision, normally main), locally or as origin/<it>; else HEAD.
 */
export async function resolveRevision(root: string, spec: Spec, wanted?: string): Promise<Revision> {
  if (wanted !== undefined) {
    const commit = await revParse(root, wanted);
    if (!commit) throw new UsageError(`--ref ${JSON.stringify(wanted)} is not a commit, branch or tag of this repository`);
    return { name: wanted, commit };
  }
  const target = spec.targetRevision;
  const candidates = target === "HEAD" ? [] : [[target, `refs/heads/${target}`], [`origin/${target}`, `refs/remotes/origin/${target}`], [target, target]];
  for (const [name, rev] of [...candidates, ["HEAD", "HEAD"]] as [string, string][]) {
    const commit = await revParse(root, rev);
    if (commit) return { name, commit };
  }
  throw new ValidationError([{ file: root, path: "", message: "the repository has no commits yet" }]);
}

/** "Merge pull request #12 from owner/branch" (merge commit) or "title (#12)" (squash commit). */
export function pullRequestNumber(subject: string): number | null {
  const merge = /^Merge pull request #(\d+) from \S/.exec(subject);
  if (merge) return Number(merge[1]);
  const squash = /\(#(\d+)\)\s*$/.exec(subject);
  return squash ? Number(squash[1]) : null;
}

export function refOf(ref: ImageRef | undefined): TagRef | null {
  return ref ? { tag: ref.newTag ?? null, digest: ref.digest ?? null } : null;
}

export function sameRef(a: TagRef | null, b: TagRef | null): boolean {
  return (a?.tag ?? null) === (b?.tag ?? null) && (a?.digest ?? null) === (b?.digest ?? null) && (a === null) === (b === null);
}

/** Tag, tag@digest or digest, as kustomize would pin it; digests shortened for a terminal when `short`. */
export function refLabel(ref: TagRef | null, short = false): string {
  if (!ref || (ref.tag === null && ref.digest === null)) return "(none)";
  const digest = ref.digest && short ? `${ref.digest.slice(0, 19)}…` : ref.digest;
  if (ref.tag && digest) return `${ref.tag}@${digest}`;
  return ref.tag ?? digest ?? "(none)";
}

export interface TagChangeOptions {
  /** Stop after this many entries (all images together). */
  limit?: number;
  /** Stop as soon as every image has its newest entry (what `status` needs). */
  newestOnly?: boolean;
}

/** Commits read per `git cat-file --batch`: most questions are answered by the first batch. */
const BATCH = 32;

/**
 * The changes of `images` in `env`'s overlay along `rev`'s first-parent history, newest first.
 * One `git log` and one `git cat-file --batch` per BATCH commits: the file as it was before a
 * listed commit is the file at the next listed one (nothing between them touched it), so each
 * version is read once.
 */
export async function tagChanges(root: string, rev: string, env: string, images: string[], options: TagChangeOptions = {}): Promise<TagChange[]> {
  const file = kustomizationFile(env);
  const commits = await firstParentLog(root, rev, file);
  const parsed = new Map<string, Map<string, TagRef | null>>();
  const imagesIn = (text: string | undefined): Map<string, TagRef | null> => {
    const key = text ?? "\0missing";
    let found = parsed.get(key);
    if (!found) {
      found = new Map();
      for (const image of images) {
        let ref: TagRef | null = null;
        // A version of the file that does not parse or has no entry for the image runs no tag of it.
        if (text !== undefined) {
          try {
            ref = refOf(readImage(text, file, image));
          } catch (error) {
            if (!(error instanceof ValidationError)) throw error;
          }
        }
        found.set(image, ref);
      }
      parsed.set(key, found);
    }
    return found;
  };

  const out: TagChange[] = [];
  const seen = new Set<string>();
  const done = () => (options.limit !== undefined && out.length >= options.limit) || (options.newestOnly === true && images.every((i) => seen.has(i)));
  for (let start = 0; start < commits.length && !done(); start += BATCH) {
    const page = commits.slice(start, start + BATCH);
    const last = page[page.length - 1]!;
    // The versions at each commit of the page, then the one before its oldest commit.
    const before = commits[start + BATCH]?.sha ?? last.parents[0];
    const texts = await showFiles(root, [...page.map((c) => `${c.sha}:${file}`), ...(before ? [`${before}:${file}`] : [])]);
    page.forEach((commit: CommitEntry, i) => {
      if (done()) return;
      const after = imagesIn(texts[i]);
      // texts[page.length] is the version before the page's oldest commit (undefined: none).
      const prior = imagesIn(texts[i + 1]);
      for (const image of images) {
        const now = after.get(image) ?? null;
        const then = prior.get(image) ?? null;
        if (now === null || sameRef(now, then)) continue;
        if (options.newestOnly && seen.has(image)) continue;
        seen.add(image);
        out.push({
          image,
          tag: now.tag,
          digest: now.digest,
          previous: then,
          commit: commit.sha,
          date: commit.date,
          author: commit.author,
          subject: commit.subject,
          pullRequest: pullRequestNumber(commit.subject),
          merge: commit.parents.length > 1,
        });
      }
    });
  }
  return options.limit !== undefined ? out.slice(0, options.limit) : out;
}

// ------------------------------------------------------------------ the history report

export interface HistoryReport {
  environment: string;
  file: string;
  ref: string;
  commit: string;
  entries: (TagChange & { current: boolean })[];
  /** The environment's Argo CD Application and whether it syncs automatically. */
  application: string;
  sync: "auto" | "manual";
  /**
   * First-parent commits after the newest tag move that change what the environment renders
   * (its overlay, the base, components), newest first: each is a later sync, so a UI rollback
   * "one step back" returns to the one before it, not to the previous tag.
   */
  laterChanges: { commit: string; subject: string }[];
}

export async function environmentHistory(root: string, spec: Spec, env: string, options: { ref?: string; limit?: number; images?: string[] } = {}): Promise<HistoryReport> {
  const revision = await resolveRevision(root, spec, options.ref);
  const images = options.images ?? spec.images.map((i) => i.name);
  const changes = await tagChanges(root, revision.commit, env, images, { limit: options.limit });
  const currentSeen = new Set<string>();
  const entries = changes.map((c) => {
    const current = !currentSeen.has(c.image);
    currentSeen.add(c.image);
    return { ...c, current };
  });
  const newest = entries[0];
  let laterChanges: HistoryReport["laterChanges"] = [];
  if (newest) {
    const out = await git(root, ["log", "--first-parent", "--format=%H%x1f%s", `${newest.commit}..${revision.commit}`, "--", `overlays/${env}`, "base", "components"]);
    laterChanges = out
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [commit = "", subject = ""] = line.split("\x1f");
        return { commit, subject };
      });
  }
  // A cluster's stage "<env>/<cluster>": its own sync mode and Application <name>-<env>-<cluster>.
  const sync = stageEnvironment(spec, env)?.sync ?? "manual";
  return { environment: env, file: kustomizationFile(env), ref: revision.name, commit: revision.commit, entries, application: `${spec.name}-${env.replace("/", "-")}`, sync, laterChanges };
}

/** The documented JSON: keys in a fixed order, whatever the objects were built with. */
export function historyJson(report: HistoryReport): string {
  const value = {
    environment: report.environment,
    file: report.file,
    ref: report.ref,
    commit: report.commit,
    entries: report.entries.map((e) => ({
      image: e.image,
      tag: e.tag,
      digest: e.digest,
      previous: e.previous ? { tag: e.previous.tag, digest: e.previous.digest } : null,
      commit: e.commit,
      date: e.date,
      author: e.author,
      subject: e.subject,
      pullRequest: e.pullRequest,
      merge: e.merge,
      current: e.current,
    })),
    application: report.application,
    sync: report.sync,
    uiRollback: uiRollback(report),
  };
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** What a UI rollback of the environment's Application does: refused under auto-sync; one step back is the sync before the newest change. */
export function uiRollback(report: HistoryReport): { allowed: boolean; returnsTo: string | null; laterChanges: { commit: string; subject: string }[] } {
  const newest = report.entries[0];
  const chain = [...report.laterChanges.map((c) => c.commit), ...(newest ? [newest.commit] : [])];
  return { allowed: report.sync === "manual", returnsTo: report.laterChanges.length ? (chain[1] ?? null) : null, laterChanges: report.laterChanges };
}

export function historyText(report: HistoryReport, colour: boolean): string {
  const images = [...new Set(report.entries.map((e) => e.image))];
  const many = images.length > 1;
  const lines: string[] = [];
  lines.push(`${paint(report.environment, "bold", colour)}: tags from ${report.file} on ${report.ref} (${shortSha(report.commit)}), newest first`);
  if (!many && images[0]) lines.push(paint(`image ${images[0]}`, "dim", colour));
  lines.push("");
  if (report.entries.length === 0) {
    lines.push("No commit of this history set a tag for the image.");
    return `${lines.join("\n")}\n`;
  }
  // Per image: the newest entry runs now, the one before is where a UI rollback goes back to.
  const rank = new Map<string, number>();
  const rows: Cell[][] = report.entries.map((e) => {
    const n = rank.get(e.image) ?? 0;
    rank.set(e.image, n + 1);
    const state: Cell = n === 0 ? { text: "current", colour: "green" } : n === 1 ? { text: "previous", colour: "yellow" } : "";
    return [
      state,
      ...(many ? [e.image] : []),
      { text: refLabel(e, true), colour: "bold" },
      { text: shortSha(e.commit), colour: "cyan" },
      shortDate(e.date),
      e.pullRequest === null ? "—" : `#${e.pullRequest}`,
      e.author,
      clip(e.subject, 72),
    ];
  });
  lines.push(formatColumns(["", ...(many ? ["IMAGE"] : []), "TAG", "COMMIT", "DATE", "PR", "AUTHOR", "SUBJECT"], rows, colour).trimEnd());
  lines.push("");
  const ui = uiRollback(report);
  if (!ui.allowed) {
    // server/application/application.go (Rollback): "rollback cannot be initiated when auto-sync is enabled".
    lines.push(`${report.application} syncs automatically: Argo CD refuses a UI rollback while auto-sync is on. Disable auto-sync on ${report.application} first (re-enabling it rolls forward to ${report.ref} again), or roll back with git revert.`);
  }
  for (const image of images) {
    const [current, previous] = report.entries.filter((e) => e.image === image);
    if (!current) continue;
    const who = many ? `${image}: ` : "";
    const pr = current.pullRequest === null ? "" : ` (pull request #${current.pullRequest})`;
    lines.push(`${who}runs ${refLabel(current)}, set by ${shortSha(current.commit)}${pr} on ${shortDate(current.date)}.`);
    const prefix = ui.allowed ? "  Argo CD UI rollback" : "  Argo CD UI rollback (with auto-sync off)";
    if (ui.returnsTo && report.laterChanges.length) {
      // A rollback picks a sync from the Application's history, which records revisions: after a
      // later change (config, base) one step back is that change's predecessor, still on this tag.
      const newest = report.laterChanges[0]!;
      const n = report.laterChanges.length;
      lines.push(
        `${prefix}: one step back returns to revision ${shortSha(ui.returnsTo)}, which still runs ${refLabel(current)}: ${n} later change${n === 1 ? "" : "s"} to what ${report.environment} renders came after the tag move (newest: ${shortSha(newest.commit)} "${clip(newest.subject, 60)}").`,
      );
      const back = previous ?? (current.previous ? { ...current.previous } : undefined);
      if (back) lines.push(`    To run ${refLabel(back)} again, pick a sync of a revision older than ${shortSha(current.commit)}; that also undoes the later change${n === 1 ? "" : "s"}. A rollback runs no hooks, so no migration.`);
    } else if (previous) {
      lines.push(`${prefix}: the sync before it ran ${refLabel(previous)} (${shortSha(previous.commit)}); a rollback runs no hooks, so no migration.`);
    } else if (current.previous) {
      lines.push(`${prefix}: the sync before it ran ${refLabel(current.previous)} (older than the entries shown).`);
    }
    const revert = current.merge ? `git revert -m 1 ${shortSha(current.commit)}` : `git revert ${shortSha(current.commit)}`;
    if (current.previous) lines.push(`  Lasting rollback: ${revert} on a branch, then merge it (back to ${refLabel(current.previous)}).`);
    else lines.push(`  Lasting rollback: none; ${shortSha(current.commit)} introduced the image entry, there is no earlier tag to return to.`);
  }
  return `${lines.join("\n")}\n`;
}
