// Pull request and comment upserts. Each function takes the Octokit it should use, so commands
// pass the one from createGitHubClient and tests pass one pointed at the fake server.
import type { Octokit } from "@octokit/rest";
import { describeGitHubError } from "./client.ts";
import { checkReply, pullListReply, pullReply, repositoryReply } from "./replies.ts";

/** GitHub rejects PR and comment bodies longer than this many characters. */
export const MAX_BODY = 65536;

const TRUNCATED = "\n\n---\n_Truncated: this text exceeded GitHub's 65,536-character limit. The full text is in the job log._";

/**
 * Cuts `text` to at most `max` UTF-16 units (never more characters than GitHub counts), at a
 * line break when one is near, and says so at the end.
 */
export function truncateBody(text: string, max = MAX_BODY): string {
  if (text.length <= max) return text;
  let cut = max - TRUNCATED.length;
  const newline = text.lastIndexOf("\n", cut);
  if (newline > cut - 2000) cut = newline;
  // Do not split a surrogate pair (an emoji cut in half renders as garbage).
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return text.slice(0, cut) + TRUNCATED;
}

interface Repo {
  owner: string;
  repo: string;
}

export interface UpsertPullRequestOptions extends Repo {
  /** Branch name in this repository (not owner:branch). */
  head: string;
  /** Defaults to the repository's default branch. */
  base?: string;
  title: string;
  body: string;
  labels?: string[];
  /**
   * Close other open PRs from branches under `headPrefix`, after commenting `comment(newPr)`, but
   * only those `isOlder` says are older moves than this one (default: a lower number): a run that
   * finishes late must never close a newer move another run opened meanwhile.
   */
  supersede?: {
    headPrefix: string;
    comment: (newPr: { number: number; html_url: string }) => string;
    isOlder?: (old: OpenPullRequest, ours: { number: number }) => boolean;
    /** Which of the open pull requests under the prefix are moves of the same thing at all; the others are left alone and not reported. */
    related?: (old: OpenPullRequest) => boolean;
  };
}

export interface UpsertPullRequestResult {
  number: number;
  url: string;
  action: "created" | "updated";
  superseded: number[];
  /** Open PRs under the prefix left open because they are newer moves than this one. */
  newer: OpenPullRequest[];
}

export async function upsertPullRequest(octokit: Octokit, options: UpsertPullRequestOptions): Promise<UpsertPullRequestResult> {
  const { owner, repo, head, title, labels, supersede } = options;
  const body = truncateBody(options.body);
  return guarded(options, async () => {
    const found = await findOpenPull(octokit, options);
    let pr: { number: number; html_url: string };
    let action: UpsertPullRequestResult["action"] = "updated";
    if (found) {
      pr = found;
      await octokit.rest.pulls.update({ owner, repo, pull_number: pr.number, title, body });
    } else {
      const base = options.base ?? checkReply(repositoryReply, (await octokit.rest.repos.get({ owner, repo })).data, `GET /repos/${owner}/${repo}`).default_branch;
      try {
        pr = checkReply(pullReply, (await octokit.rest.pulls.create({ owner, repo, head, base, title, body })).data, `POST /repos/${owner}/${repo}/pulls`);
        action = "created";
      } catch (error) {
        // Another run (or a retried create that did land) opened it first: update that one.
        const raced = isAlreadyExists(error) ? await findOpenPull(octokit, { ...options, base }) : undefined;
        if (!raced) throw error;
        pr = raced;
        await octokit.rest.pulls.update({ owner, repo, pull_number: pr.number, title, body });
      }
    }
    if (labels && labels.length > 0) {
      await octokit.rest.issues.addLabels({ owner, repo, issue_number: pr.number, labels });
    }
    const superseded: number[] = [];
    const newer: OpenPullRequest[] = [];
    if (supersede) {
      const text = truncateBody(supersede.comment({ number: pr.number, html_url: pr.html_url }));
      const isOlder = supersede.isOlder ?? ((old, ours) => old.number < ours.number);
      for (const old of await listOpenPullRequests(octokit, { owner, repo, headPrefix: supersede.headPrefix })) {
        if (old.number === pr.number) continue;
        if (supersede.related && !supersede.related(old)) continue;
        if (!isOlder(old, pr)) {
          newer.push(old);
          continue;
        }
        // Another run may have closed, merged or superseded either one since the list: look
        // again right before closing, and close nothing once ours is no longer open.
        if ((await getPull(octokit, owner, repo, pr.number)).state !== "open") break;
        const theirs = await getPull(octokit, owner, repo, old.number);
        if (theirs.state !== "open" || theirs.head?.ref !== old.head) continue;
        await octokit.rest.issues.createComment({ owner, repo, issue_number: old.number, body: text });
        await octokit.rest.pulls.update({ owner, repo, pull_number: old.number, state: "closed" });
        superseded.push(old.number);
      }
    }
    return { number: pr.number, url: pr.html_url, action, superseded, newer };
  });
}

/** The open pull request from `head` of this repository, if any. */
export async function findOpenPullRequest(octokit: Octokit, options: Repo & { head: string; base?: string }): Promise<{ number: number; html_url: string } | undefined> {
  return guarded(options, () => findOpenPull(octokit, options));
}

async function findOpenPull(octokit: Octokit, options: Repo & { head: string; base?: string }) {
  const { owner, repo, head, base } = options;
  // GitHub ignores a head filter without the owner: prefix and returns every open PR.
  const { data } = await octokit.rest.pulls.list({ owner, repo, state: "open", head: `${owner}:${head}`, ...(base ? { base } : {}) });
  return checkReply(pullListReply, data, `GET /repos/${owner}/${repo}/pulls`)[0];
}

async function getPull(octokit: Octokit, owner: string, repo: string, number: number) {
  return checkReply(pullReply, (await octokit.rest.pulls.get({ owner, repo, pull_number: number })).data, `GET /repos/${owner}/${repo}/pulls/${number}`);
}

function isAlreadyExists(error: unknown): boolean {
  const e = error as { status?: number; response?: { data?: { errors?: Array<{ message?: string }> } } };
  return e.status === 422 && (e.response?.data?.errors ?? []).some((d) => /already exists/i.test(d.message ?? ""));
}

export interface UpsertCommentOptions extends Repo {
  issueNumber: number;
  /** A hidden HTML comment such as `<!-- gitops:rendered-diff -->` that identifies our comment. */
  marker: string;
  /** Gets the marker prepended if it does not contain it already. */
  body: string;
}

export async function upsertComment(octokit: Octokit, options: UpsertCommentOptions): Promise<{ id: number; action: "created" | "updated" }> {
  const { owner, repo, issueNumber, marker } = options;
  const full = options.body.includes(marker) ? options.body : `${marker}\n${options.body}`;
  let body = truncateBody(full);
  if (!body.includes(marker)) body = `${marker}\n${truncateBody(full, MAX_BODY - marker.length - 1)}`;
  return guarded(options, async () => {
    const pages = octokit.paginate.iterator(octokit.rest.issues.listComments, { owner, repo, issue_number: issueNumber, per_page: 100 });
    for await (const page of pages) {
      const existing = page.data.find((c) => c.body?.includes(marker));
      if (existing) {
        await octokit.rest.issues.updateComment({ owner, repo, comment_id: existing.id, body });
        return { id: existing.id, action: "updated" as const };
      }
    }
    const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body });
    return { id: data.id, action: "created" as const };
  });
}

export interface OpenPullRequest {
  number: number;
  title: string;
  url: string;
  /** Branch name, without owner: prefix. */
  head: string;
}

/** Open PRs from branches of this repository (not forks) whose name starts with `headPrefix`. */
export async function listOpenPullRequests(octokit: Octokit, options: Repo & { headPrefix: string }): Promise<OpenPullRequest[]> {
  const { owner, repo, headPrefix } = options;
  return guarded(options, async () => {
    const pulls = await octokit.paginate(octokit.rest.pulls.list, { owner, repo, state: "open", per_page: 100 });
    // A fork's branch can carry the same name; its label is fork-owner:branch.
    const ownerOf = (label: string) => label.split(":")[0]?.toLowerCase();
    return pulls
      .filter((p) => ownerOf(p.head.label) === owner.toLowerCase() && p.head.ref.startsWith(headPrefix))
      .map((p) => ({ number: p.number, title: p.title, url: p.html_url, head: p.head.ref }));
  });
}

// HTTP failures leave as one-line GitHubErrors; programming errors keep their stack.
async function guarded<T>(context: Repo, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (typeof (error as { status?: unknown })?.status === "number") throw describeGitHubError(error, context);
    throw error;
  }
}
