// Applying a planned tag move: branch, atomic write, commit; then, with a token, push (rebasing
// and retrying when the remote moved) and open or update the pull request.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PreconditionError, ToolError } from "../core/errors.ts";
import { githubToken } from "../core/secrets.ts";
import { writeFileAtomic } from "../core/fs.ts";
import { checkoutNewBranch, commitPaths, currentBranch, dirtyPaths, fetch, git, push, pushAuthEnv, rebase, remoteUrl, topLevel, tryGit } from "../git/git.ts";
import type { GitHubClient } from "../github/client.ts";
import { planImageEdit } from "../edit/kustomization.ts";
import { branchPrefix, type ReleasePlan } from "./plan.ts";

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
}

export interface ApplyResult {
  branch: string;
  commit: string;
  pushed: boolean;
  pullRequest?: { number: number; url: string; action: "created" | "updated"; superseded: number[] };
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
  const dirty = await dirtyPaths(top);
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
 * work: refuse when HEAD is another branch, or when the existing branch holds commits that touch
 * more than the overlay this tool edits.
 */
export async function checkBranchStart(root: string, plan: ReleasePlan, current: string): Promise<void> {
  const base = await defaultBranch(root);
  if (current !== base) {
    throw new PreconditionError(`you are on ${current}; deploy branches start from ${base}: run \`git switch ${base}\` first`);
  }
  const exists = await tryGit(root, ["rev-parse", "--verify", "--quiet", `refs/heads/${plan.branch}`]);
  if (exists.code !== 0) return;
  const extra = (await git(root, ["rev-list", `HEAD..${plan.branch}`])).split("\n").filter(Boolean);
  for (const sha of extra) {
    const touched = (await git(root, ["diff-tree", "--no-commit-id", "--name-only", "-r", sha])).split("\n").filter(Boolean);
    if (touched.some((f) => f !== plan.file)) {
      throw new PreconditionError(`branch ${plan.branch} already exists with commits that are not on ${base} (${sha.slice(0, 12)} touches ${touched.join(", ")}): delete it or finish it first`);
    }
  }
}

/**
 * Creates the deploy branch and commits the edit. If anything fails on the way (a signing hook,
 * a full disk), the repository is put back as it was: original branch, branch ref, index, file.
 */
async function commitOnBranch(root: string, plan: ReleasePlan): Promise<string> {
  const original = await currentBranch(root);
  const previous = (await tryGit(root, ["rev-parse", "--verify", "--quiet", `refs/heads/${plan.branch}`])).stdout.trim();
  try {
    await checkoutNewBranch(root, plan.branch);
    return await commitPlan(root, plan, plan.newText);
  } catch (error) {
    if (original) await tryGit(root, ["checkout", "--quiet", "--force", original]);
    if (previous) await tryGit(root, ["branch", "--quiet", "--force", plan.branch, previous]);
    else await tryGit(root, ["branch", "--quiet", "-D", plan.branch]);
    throw error;
  }
}

async function commitPlan(root: string, plan: ReleasePlan, text: string): Promise<string> {
  await writeFileAtomic(join(root, plan.file), text);
  return commitPaths(root, [plan.file], plan.commitMessage);
}

/**
 * Pushes the deploy branch. When the remote branch moved (another run, a human), its commits are
 * fetched and ours is rebased on top; if that conflicts, the edit is re-applied on the remote
 * branch instead. Bounded: after MAX_PUSH_ATTEMPTS it gives up with a clear message.
 */
async function pushWithRetry(root: string, plan: ReleasePlan, token: string | undefined, log: (l: string) => void): Promise<string> {
  const url = (await remoteUrl(root)) ?? "";
  const auth = { env: pushAuthEnv(token, url), secrets: token ? [token] : [] };
  for (let attempt = 1; attempt <= MAX_PUSH_ATTEMPTS; attempt++) {
    const outcome = await push(root, "origin", plan.branch, auth);
    if (outcome.ok) return (await git(root, ["rev-parse", "HEAD"])).trim();
    if (!outcome.rejected) throw new ToolError(`git push failed: ${outcome.message}`);
    log(`push of ${plan.branch} rejected (the remote branch moved); fetching and rebasing (attempt ${attempt}/${MAX_PUSH_ATTEMPTS})`);
    if (!(await fetch(root, "origin", `+refs/heads/${plan.branch}:refs/remotes/origin/${plan.branch}`, auth))) {
      throw new ToolError(`git fetch of ${plan.branch} failed after a rejected push`);
    }
    if (!(await rebase(root, `origin/${plan.branch}`))) {
      // Same line changed on both sides: take the remote branch and apply the edit again there.
      await git(root, ["reset", "--quiet", "--hard", `origin/${plan.branch}`]);
      const current = await readFile(join(root, plan.file), "utf8");
      let text = current;
      for (const move of plan.moves) text = planImageEdit(text, plan.file, move.image, move.after).text;
      if (text !== current) await commitPlan(root, plan, text);
    }
  }
  throw new ToolError(`git push of ${plan.branch} was rejected ${MAX_PUSH_ATTEMPTS} times: the remote branch keeps moving; try again later`);
}

export async function applyRelease(root: string, plan: ReleasePlan, options: ApplyOptions): Promise<ApplyResult> {
  const token = githubToken(options.env);
  // Ask GitHub first: a bad token or a missing repository is reported before anything is
  // committed or pushed.
  let github: { octokit: GitHubClient; owner: string; repo: string; base: string } | undefined;
  // Octokit is loaded only when a pull request is to be opened (a local bump does not need it).
  const { createGitHubClient, describeGitHubError, resolveRepository } = token ? await import("../github/client.ts") : ({} as typeof import("../github/client.ts"));
  if (token) {
    const { owner, repo } = resolveRepository({ env: options.env, originUrl: await remoteUrl(root) });
    const octokit = createGitHubClient({ token, log: options.log, minRetryDelayMs: options.retryDelayMs, baseUrl: options.env.GITHUB_API_URL || undefined });
    try {
      github = { octokit, owner, repo, base: (await octokit.rest.repos.get({ owner, repo })).data.default_branch };
    } catch (error) {
      throw describeGitHubError(error, { owner, repo });
    }
  }
  // The body reuses the rendered diff; built before the push so that a failure leaves nothing behind remotely.
  const body = github ? await options.body() : undefined;

  let commit: string;
  if (options.commit) {
    commit = await commitOnBranch(root, plan);
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
  const { octokit, owner, repo, base } = github;
  const { upsertPullRequest } = await import("../github/pull-request.ts");
  commit = await pushWithRetry(root, plan, token, options.log);
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
        headPrefix: branchPrefix(plan.env),
        comment: (newer) => `Superseded by #${newer.number} (${plan.title}), a newer move of ${plan.env}. Closing this one.`,
      },
    });
    return { branch: plan.branch, commit, pushed: true, pullRequest: pr };
  } catch (error) {
    throw error instanceof ToolError ? error : describeGitHubError(error, { owner, repo });
  }
}
