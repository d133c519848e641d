// Applying a planned tag move: branch, atomic write, commit; then, with a token, push (rebasing
// and retrying when the remote moved) and open or update the pull request.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { pausePoint } from "../core/cleanup.ts";
import { GitHubError, PreconditionError, ToolError } from "../core/errors.ts";
import { githubToken } from "../core/secrets.ts";
import { readTextIfExists, removeStaleAtomicTemps, writeFileAtomic } from "../core/fs.ts";
import { checkoutNewBranch, commitPaths, currentBranch, dirtyPaths, fetch, git, push, pushAuthEnv, rebase, remoteUrl, revParse, showFile, topLevel, tryGit } from "../git/git.ts";
import type { GitHubClient } from "../github/client.ts";
import { planImageEdit } from "../edit/kustomization.ts";
import { compareSemver } from "../edit/tag.ts";
import { acquireLock, type Journal, type RepositoryLock } from "./lock.ts";
import { branchPrefix, parseDeployBranch, type ReleasePlan } from "./plan.ts";

export interface ApplyOptions {
  env: NodeJS.ProcessEnv;
  /** false when the deploy branch already holds the change (a re-run): only push and the pull request remain. */
  commit: boolean;
  /** Fail unless a pull request can be opened (a token is present). */
  requirePullRequest: boolean;
  /** Builds the pull-request body once the plan is known (reuses the rendered diff). */
  body: () => Promise<string>;
  labels: string[];
  log: (line: string) => void;
  /** For tests: the unit of GitHub retry waits, in ms. */
  retryDelayMs?: number;
  /** The repository lock this run holds (lockRepository); the commit is journalled in it. */
  lock: RepositoryLock;
  /** The commit of the local deploy branch that already holds exactly this move (a repeated run). */
  existing?: string;
}

export interface ApplyResult {
  branch: string;
  commit: string;
  pushed: boolean;
  pullRequest?: { number: number; url: string; action: "created" | "updated" | "unchanged"; superseded: number[] };
  /** Nothing was committed, pushed or opened: the branch and its pull request already hold this move. */
  unchanged?: boolean;
  nextStep?: string;
}

export const MAX_PUSH_ATTEMPTS = 3;


/** The working tree must be a clean branch: what we commit is then exactly the planned edit. */
export async function checkPreconditions(root: string, options: Pick<ApplyOptions, "env" | "requirePullRequest">): Promise<{ branch: string }> {
  let top: string;
  try {
    top = await topLevel(root);
  } catch {
    throw new PreconditionError(`${root} is not a git repository`);
  }
  const branch = await currentBranch(top);
  if (!branch) throw new PreconditionError("HEAD is detached: check out a branch (e.g. `git switch main`) first");
  let dirty = await dirtyPaths(top);
  // Temp files of atomic writes whose process was killed (`<file>.<pid>.<hex>.tmp`) are ours to remove.
  const stale = dirty.filter((p) => /\.\d+\.[0-9a-f]{8}\.tmp$/.test(p));
  if (stale.length) {
    for (const p of stale) await removeStaleAtomicTemps(join(top, p.replace(/\.\d+\.[0-9a-f]{8}\.tmp$/, "")));
    dirty = await dirtyPaths(top);
  }
  if (dirty.length) {
    const shown = dirty.slice(0, 5).join(", ") + (dirty.length > 5 ? `, and ${dirty.length - 5} more` : "");
    throw new PreconditionError(`the working tree has uncommitted changes (${shown}): commit or stash them first`);
  }
  if (options.requirePullRequest && !githubToken(options.env)) {
    throw new PreconditionError("a pull request was requested (--pr) but no token is set: export GITHUB_TOKEN (contents: write, pull-requests: write)");
  }
  return { branch };
}

/** The branch deploy branches start from: origin's default branch when known, else main. */
export async function defaultBranch(root: string): Promise<string> {
  const head = await tryGit(root, ["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"]);
  if (head.code === 0 && head.stdout.trim()) return head.stdout.trim().replace(/^origin\//, "");
  return "main";
}

/**
 * A deploy branch starts from the default branch, and re-creating it must not drop anyone's
 * work: refuse when HEAD is another branch, or when the existing branch holds commits that are
 * not this very move. Returns the branch's commit when it already holds exactly this move (a
 * repeated bump: nothing to commit again). A branch whose own commits are this move made from an
 * older default branch is re-made on the current one (the same edit, nothing else is lost).
 */
export async function checkBranchStart(root: string, plan: ReleasePlan, current: string): Promise<{ holds?: string }> {
  const base = await defaultBranch(root);
  if (current !== base) {
    throw new PreconditionError(`you are on ${current}; deploy branches start from ${base}: run \`git switch ${base}\` first`);
  }
  const tip = await revParse(root, `refs/heads/${plan.branch}`);
  if (!tip) {
    // A fresh clone (CI) has the branch only as origin's, as last fetched: the same move again is
    // found there. Anything else on it is for the push to find (checkRemoteBranch).
    const remote = await revParse(root, `refs/remotes/origin/${plan.branch}`);
    if (remote && (await holdsExactly(root, plan, remote))) return { holds: remote };
    return {};
  }
  const extra = (await git(root, ["rev-list", `HEAD..${plan.branch}`])).split("\n").filter(Boolean);
  if (!extra.length) return {};
  if (await holdsExactly(root, plan, tip)) return { holds: tip };
  const forkPoint = (await git(root, ["merge-base", "HEAD", plan.branch])).trim();
  const touched = (await git(root, ["diff", "--name-only", "--no-renames", forkPoint, plan.branch])).split("\n").filter(Boolean);
  if (touched.length === 1 && touched[0] === plan.file) {
    const tipText = await showFile(root, plan.branch, plan.file);
    let expected = await showFile(root, forkPoint, plan.file);
    if (expected !== undefined) for (const move of plan.moves) expected = planImageEdit(expected, plan.file, move.image, move.after).text;
    if (expected !== undefined && expected === tipText) return {};
  }
  const what = touched.some((f) => f !== plan.file) ? `touching ${touched.slice(0, 5).join(", ")}` : `with another value in ${plan.file}`;
  throw new PreconditionError(
    `branch ${plan.branch} already exists with commits that are not on ${base} and are not this move (${extra[0]!.slice(0, 12)}, ${what}): nothing was changed; delete it or finish it first`,
  );
}

/** Whether `commit` changes, against where it left HEAD, only the planned file, to exactly the planned text. */
async function holdsExactly(root: string, plan: ReleasePlan, commit: string): Promise<boolean> {
  const forkPoint = (await tryGit(root, ["merge-base", "HEAD", commit])).stdout.trim();
  if (!forkPoint || forkPoint === commit) return false;
  const touched = (await git(root, ["diff", "--name-only", "--no-renames", forkPoint, commit])).split("\n").filter(Boolean);
  return touched.length === 1 && touched[0] === plan.file && (await showFile(root, commit, plan.file)) === plan.newText;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Takes the repository lock for a write (bump-image, promote) and, when it took over the lock of
 * a run that died half-way, finishes or undoes what that run left (its journal says what it
 * created). Release the lock when the write is done.
 */
export async function lockRepository(root: string, command: string, log: (line: string) => void): Promise<RepositoryLock> {
  const lock = await acquireLock(root, command, log);
  const journal = lock.takenOver?.journal;
  if (journal) {
    // Kept in our lock until it is dealt with: if this fails too, the next run tries again.
    await lock.journal(journal);
    log(await undoJournal(root, journal));
    await lock.journal(undefined);
  }
  return lock;
}

/**
 * Puts back what a run recorded in its journal and did not finish: the file it wrote (only if it
 * holds what the run wrote), the index entry, HEAD (a plain checkout: nothing else is
 * discarded), and the branch it created (only while it still points where the run left it).
 * A run that got as far as its commit is left as it is: that is a finished commit.
 */
async function undoJournal(root: string, j: Journal): Promise<string> {
  const head = await revParse(root, "HEAD");
  const on = await currentBranch(root);
  if (on === j.branch && head !== j.originalHead) {
    return `notice: an interrupted run had committed ${head?.slice(0, 12)} on ${j.branch}; it is kept (run the command again on that branch to push it and open the pull request)`;
  }
  const file = join(root, j.file);
  const removed = await removeStaleAtomicTemps(file);
  if (on === j.branch) {
    const disk = await readTextIfExists(file);
    const committed = await showFile(root, "HEAD", j.file);
    if (disk !== undefined && disk !== committed && sha256(disk) !== j.newTextSha) {
      throw new PreconditionError(`an interrupted run left ${j.branch} checked out, and ${j.file} has changes it did not make: commit or discard them, then \`git switch ${j.original}\``);
    }
    await git(root, ["reset", "--quiet", "--", j.file]);
    await git(root, ["checkout", "--quiet", "--", j.file]);
    await git(root, ["checkout", "--quiet", j.original]);
  }
  // Compare-and-swap: the branch is only touched while it points where the run left it.
  if (j.previous) await tryGit(root, ["update-ref", `refs/heads/${j.branch}`, j.previous, j.originalHead]);
  else await tryGit(root, ["update-ref", "-d", `refs/heads/${j.branch}`, j.originalHead]);
  const temps = removed.length ? ` and removed ${removed.length} temp file(s) beside ${j.file}` : "";
  return `notice: undid an interrupted run: back on ${j.original}, ${j.previous ? `${j.branch} restored` : `${j.branch} removed`}${temps}`;
}

/**
 * Creates the deploy branch and commits the edit, journalled in the lock so a run killed in
 * between can be undone by the next one. If anything fails on the way (a signing hook, a full
 * disk), the repository is put back as it was: original branch, branch ref, index, file.
 */
async function commitOnBranch(root: string, plan: ReleasePlan, lock: RepositoryLock): Promise<string> {
  const original = await currentBranch(root);
  const originalHead = await revParse(root, "HEAD");
  if (!original || !originalHead) throw new PreconditionError("HEAD is detached: check out a branch (e.g. `git switch main`) first");
  const previous = (await revParse(root, `refs/heads/${plan.branch}`)) ?? "";
  const journal: Journal = { original, originalHead, branch: plan.branch, previous, file: plan.file, newTextSha: sha256(plan.newText) };
  await lock.journal(journal);
  let commit: string;
  try {
    await checkoutNewBranch(root, plan.branch);
    await pausePoint("branched");
    await writeFileAtomic(join(root, plan.file), plan.newText);
    await pausePoint("written");
    await git(root, ["add", "--", plan.file]);
    await pausePoint("staged");
    commit = await commitPaths(root, [plan.file], plan.commitMessage);
  } catch (error) {
    // Undone, the journal closes; if even that fails, it stays for the next run to finish.
    if (await undoJournal(root, journal).then(() => true, () => false)) await lock.journal(undefined);
    throw error;
  }
  await lock.journal(undefined);
  return commit;
}

/**
 * A remote deploy branch is adopted only when it holds exactly this move: its tree differs from
 * the default branch's (or from the commit ours starts from) in this one file, and that file is
 * exactly the planned edit of it. Branch names are guessable; anything else on it (a change to
 * base/, a second file, another value) would ride along under this tool's title.
 */
async function checkRemoteBranch(root: string, plan: ReleasePlan, base: string, auth: { env: NodeJS.ProcessEnv; secrets: string[] }): Promise<void> {
  const remote = `refs/remotes/origin/${plan.branch}`;
  await fetch(root, "origin", `+refs/heads/${base}:refs/remotes/origin/${base}`, auth);
  const candidates = [await revParse(root, "HEAD^"), await revParse(root, `refs/remotes/origin/${base}`)].filter((c): c is string => !!c);
  let differences: string[] = [];
  for (const candidate of candidates) {
    const changed = (await git(root, ["diff", "--name-only", "--no-renames", candidate, remote])).split("\n").filter(Boolean);
    const baseText = await showFile(root, candidate, plan.file);
    const remoteText = await showFile(root, remote, plan.file);
    let expected = baseText;
    if (baseText !== undefined) for (const move of plan.moves) expected = planImageEdit(expected!, plan.file, move.image, move.after).text;
    if (changed.length === 1 && changed[0] === plan.file && remoteText === expected) return;
    if (!differences.length) differences = changed.length === 1 && changed[0] === plan.file ? [`${plan.file} holds another value than this move's`] : changed.filter((f) => f !== plan.file);
  }
  throw new PreconditionError(
    `the remote branch ${plan.branch} already exists and holds changes this move does not make (${differences.slice(0, 5).join(", ")}${differences.length > 5 ? `, and ${differences.length - 5} more` : ""}): ` +
      `it was not created by this tool for this move, so nothing was pushed. Your commit stays on the local branch ${plan.branch}. ` +
      `Look at it (\`git fetch origin ${plan.branch} && git diff ${base} FETCH_HEAD\`); if it is not yours to keep, delete it on GitHub and run this command again.`,
  );
}

/** Whether origin's `branch` is at `commit` (fetched now: the remote-tracking ref may be stale). */
async function remoteBranchAt(root: string, branch: string, commit: string, token: string | undefined, apiUrl: string): Promise<boolean> {
  const url = (await remoteUrl(root, "origin", true)) ?? "";
  const { env } = pushAuthEnv(token, url, apiUrl);
  if (!(await fetch(root, "origin", `+refs/heads/${branch}:refs/remotes/origin/${branch}`, { env, secrets: token ? [token] : [] }))) return false;
  return (await revParse(root, `refs/remotes/origin/${branch}`)) === commit;
}

/**
 * Pushes the deploy branch. When the remote branch moved (another run of the same move), it is
 * fetched, checked to hold exactly this move (anything else is refused), and ours is rebased on
 * it. Bounded: after MAX_PUSH_ATTEMPTS it gives up with a clear message.
 */
async function pushWithRetry(root: string, plan: ReleasePlan, token: string | undefined, apiUrl: string, base: string, log: (l: string) => void): Promise<string> {
  const url = (await remoteUrl(root, "origin", true)) ?? "";
  const { env, withheld } = pushAuthEnv(token, url, apiUrl);
  if (withheld) log(`notice: pushing without the GitHub token: ${withheld}`);
  const auth = { env, secrets: token ? [token] : [] };
  for (let attempt = 1; attempt <= MAX_PUSH_ATTEMPTS; attempt++) {
    const outcome = await push(root, "origin", plan.branch, auth);
    if (outcome.ok) return (await git(root, ["rev-parse", "HEAD"])).trim();
    if (!outcome.rejected) throw new ToolError(`git push failed: ${outcome.message}. The commit stays on the local branch ${plan.branch}; nothing is lost. Next step: run this command again once origin answers`);
    log(`push of ${plan.branch} rejected (the remote branch exists and moved); fetching it to check what it holds (attempt ${attempt}/${MAX_PUSH_ATTEMPTS})`);
    if (!(await fetch(root, "origin", `+refs/heads/${plan.branch}:refs/remotes/origin/${plan.branch}`, auth))) {
      throw new ToolError(`git fetch of ${plan.branch} failed after a rejected push`);
    }
    await checkRemoteBranch(root, plan, base, auth);
    // It holds exactly this move: ours becomes empty on top of it and is dropped.
    if (!(await rebase(root, `origin/${plan.branch}`))) {
      throw new ToolError(`could not rebase ${plan.branch} onto origin/${plan.branch}, which holds the same move; delete one of them and run again`);
    }
  }
  throw new ToolError(`git push of ${plan.branch} was rejected ${MAX_PUSH_ATTEMPTS} times: the remote branch keeps moving; try again later`);
}

export async function applyRelease(root: string, plan: ReleasePlan, options: ApplyOptions): Promise<ApplyResult> {
  const token = githubToken(options.env);
  const apiUrl = (options.env.GITHUB_API_URL || "https://api.github.com").replace(/\/+$/, "");
  // Ask GitHub first: a bad token, a missing repository or a garbled answer is reported before
  // anything is committed or pushed.
  let github: { octokit: GitHubClient; owner: string; repo: string; base: string } | undefined;
  // Octokit is loaded only when a pull request is to be opened (a local bump does not need it).
  const { createGitHubClient, describeGitHubError, resolveRepository } = token ? await import("../github/client.ts") : ({} as typeof import("../github/client.ts"));
  const { checkReply, repositoryReply } = token ? await import("../github/replies.ts") : ({} as typeof import("../github/replies.ts"));
  if (token) {
    const { owner, repo } = resolveRepository({ env: options.env, originUrl: await remoteUrl(root) });
    const octokit = createGitHubClient({ token, log: options.log, minRetryDelayMs: options.retryDelayMs, baseUrl: apiUrl });
    try {
      const reply = (await octokit.rest.repos.get({ owner, repo })).data;
      github = { octokit, owner, repo, base: checkReply(repositoryReply, reply, `GET /repos/${owner}/${repo}`).default_branch };
    } catch (error) {
      const e = describeGitHubError(error, { owner, repo });
      throw e.timedOut ? new GitHubError(`${e.message}; nothing was committed or pushed: run this command again later`, e.status, true) : e;
    }
  }
  // The body reuses the rendered diff; built before the push so that a failure leaves nothing behind remotely.
  const body = github ? await options.body() : undefined;

  let commit: string;
  if (options.existing) {
    commit = options.existing;
    if (!github || body === undefined) {
      return {
        branch: plan.branch,
        commit,
        pushed: false,
        unchanged: true,
        nextStep: `Branch ${plan.branch} already holds this move (commit ${commit.slice(0, 12)}); nothing was committed. To deploy: git push -u origin ${plan.branch}, then open a pull request (or set GITHUB_TOKEN and run this command again).`,
      };
    }
    // Pushing and the pull request work from the branch, as after a first run (a branch known
    // only as origin's gets its local branch at that commit).
    if (!(await revParse(root, `refs/heads/${plan.branch}`))) await git(root, ["branch", "--quiet", "--no-track", plan.branch, commit]);
    await git(root, ["checkout", "--quiet", plan.branch]);
  } else if (options.commit) {
    commit = await commitOnBranch(root, plan, options.lock);
  } else {
    commit = (await git(root, ["rev-parse", "HEAD"])).trim();
  }
  if (!github || body === undefined) {
    return {
      branch: plan.branch,
      commit,
      pushed: false,
      nextStep: `Committed on branch ${plan.branch}. To deploy: git push -u origin ${plan.branch}, then open a pull request against the default branch (or set GITHUB_TOKEN and run this command again to have it pushed and opened for you).`,
    };
  }
  const { owner, repo, base } = github;
  // A fresh client: the pull-request step gets its own deadline (GITOPS_GITHUB_TIMEOUT_S).
  const octokit = createGitHubClient({ token: token!, log: options.log, minRetryDelayMs: options.retryDelayMs, baseUrl: apiUrl });
  const { upsertPullRequest } = await import("../github/pull-request.ts");
  const { findOpenPullRequest } = await import("../github/pull-request.ts");
  if (options.existing && (await remoteBranchAt(root, plan.branch, commit, token, apiUrl))) {
    // A repeated run: the same commit is on origin; if its pull request is open, there is nothing to do.
    try {
      const open = await findOpenPullRequest(octokit, { owner, repo, head: plan.branch, base });
      if (open) return { branch: plan.branch, commit, pushed: false, unchanged: true, pullRequest: { number: open.number, url: open.html_url, action: "unchanged", superseded: [] } };
    } catch (error) {
      throw error instanceof ToolError ? error : describeGitHubError(error, { owner, repo });
    }
  }
  commit = await pushWithRetry(root, plan, token, apiUrl, base, options.log);
  const prefix = branchPrefix(plan.env);
  const ours = parseDeployBranch(plan.branch, plan.env);
  const moved = ours?.images.join(", ") ?? plan.env;
  try {
    const pr = await upsertPullRequest(octokit, {
      owner,
      repo,
      base,
      head: plan.branch,
      title: plan.title,
      body,
      labels: options.labels,
      supersede: {
        headPrefix: prefix,
        comment: (newer) => `Superseded by #${newer.number} (${plan.title}), a newer move of ${moved} in ${plan.env}. Closing this one.`,
        // Only a move of the same images: a release of one image never closes another's (issue 10.5).
        // A pull request that moves an image this one does not move is left alone, as are branches
        // of another naming; whatever it moves, this one must move too.
        related: (old) => {
          const theirs = parseDeployBranch(old.head, plan.env);
          return !!ours && !!theirs && theirs.images.every((image) => ours.images.includes(image));
        },
        // Older = a lower version of every image (when both are versions), else an older pull request.
        isOlder: (old, mine) => {
          const theirs = parseDeployBranch(old.head, plan.env)!;
          const orders = theirs.images.map((image) => compareSemver(theirs.refs.get(image)!, ours!.refs.get(image)!));
          if (orders.some((o) => o === undefined)) return old.number < mine.number;
          return orders.every((o) => o! <= 0);
        },
      },
    });
    for (const newer of pr.newer) options.log(`notice: left #${newer.number} (${newer.head}) open: it is a newer move of ${moved} in ${plan.env} than this one`);
    return { branch: plan.branch, commit, pushed: true, pullRequest: { number: pr.number, url: pr.url, action: pr.action, superseded: pr.superseded } };
  } catch (error) {
    const e = error instanceof ToolError ? error : describeGitHubError(error, { owner, repo });
    if (e instanceof GitHubError && e.timedOut) {
      throw new GitHubError(
        `${e.message}. Commit ${commit.slice(0, 12)} is on branch ${plan.branch} and pushed to origin; nothing is lost. ` +
          `Next step: run this command again from that branch (or open the pull request for ${plan.branch} on GitHub).`,
        undefined,
        true,
      );
    }
    throw e;
  }
}
