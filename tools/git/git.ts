// Git, always with an explicit working directory and an argument array (never a shell string).
// Credentials for pushing travel in the environment (GIT_CONFIG_*), never in arguments or output.
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ToolError } from "../core/errors.ts";
import { redact } from "../core/secrets.ts";
import { run, runRaw } from "../core/process.ts";

export interface GitOptions {
  /** Extra environment, e.g. from pushAuthEnv(). */
  env?: NodeJS.ProcessEnv;
  /** Secrets to strip from any message that leaves this module. */
  secrets?: string[];
  /** Kill git after this long (network operations: see networkTimeoutMs). */
  timeoutMs?: number;
}

/**
 * The deadline of one git push or fetch: GITOPS_GIT_TIMEOUT_S, else 120 s. A remote that accepts
 * the connection and never answers would otherwise hold the command (and the deploy lock) forever.
 */
export function networkTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.GITOPS_GIT_TIMEOUT_S);
  return (Number.isFinite(value) && value > 0 ? value : 120) * 1000;
}

export async function git(cwd: string, args: string[], options: GitOptions = {}): Promise<string> {
  const result = await tryGit(cwd, args, options);
  if (result.code !== 0) {
    throw new ToolError(redact(`git ${args[0]} failed: ${(result.stderr || result.stdout).trim()}`, options.secrets));
  }
  return result.stdout;
}

export async function tryGit(cwd: string, args: string[], options: GitOptions = {}): Promise<{ code: number; stdout: string; stderr: string; timedOut?: boolean }> {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", ...options.env };
  // git's tracing prints HTTP headers (the token's basic-auth header among them) into the stderr
  // we pass on; GIT_TRACE_REDACT=0 even turns its own masking off. None of it reaches our git.
  for (const key of Object.keys(env)) if (/^GIT_TRACE/.test(key) || key === "GIT_CURL_VERBOSE") delete env[key];
  const result = await run("git", args, { cwd, env, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) });
  if (result.timedOut) {
    const seconds = options.timeoutMs! / 1000;
    return { code: result.code, stdout: result.stdout, stderr: `git ${args[0]} did not finish within ${seconds} s (GITOPS_GIT_TIMEOUT_S) and was stopped`, timedOut: true };
  }
  return { code: result.code, stdout: result.stdout, stderr: redact(result.stderr, options.secrets) };
}

/**
 * The host that serves git for the GitHub whose REST API is at `apiUrl`: github.com for
 * api.github.com, <name>.ghe.com for api.<name>.ghe.com, and the API's own host for GitHub
 * Enterprise Server (https://<host>/api/v3).
 */
export function gitHostOfApi(apiUrl: string): string | undefined {
  let host: string;
  try {
    host = new URL(apiUrl).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  if (host === "api.github.com") return "github.com";
  if (/^api\.[a-z0-9-]+\.ghe\.com$/.test(host)) return host.slice("api.".length);
  return host;
}

/**
 * Environment that makes `git push`/`fetch` authenticate with the token (as actions/checkout
 * does), or, with the reason, none: the token goes only over https, and only to the git host of
 * the GitHub the API URL names. An origin elsewhere (a mirror, a typo, someone else's server)
 * never sees it.
 */
export function pushAuthEnv(token: string | undefined, remoteUrl: string, apiUrl: string): { env: NodeJS.ProcessEnv; withheld?: string } {
  if (!token) return { env: {} };
  let url: URL;
  try {
    url = new URL(remoteUrl);
  } catch {
    return { env: {}, withheld: "the origin is not an https URL" };
  }
  if (url.protocol !== "https:") return { env: {}, withheld: `the origin is not https (${url.protocol.replace(/:$/, "")})` };
  const expected = gitHostOfApi(apiUrl);
  if (url.hostname.toLowerCase() !== expected) {
    return { env: {}, withheld: `the origin's host ${url.hostname} is not ${expected ?? "the GitHub host"} (the host of GITHUB_API_URL ${apiUrl})` };
  }
  const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
  return { env: { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.extraheader", GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${basic}` } };
}

export async function topLevel(cwd: string): Promise<string> {
  return (await git(cwd, ["rev-parse", "--show-toplevel"])).trim();
}

/** Paths with uncommitted changes (staged, unstaged or untracked), as `git status --porcelain` lists them. */
export async function dirtyPaths(cwd: string): Promise<string[]> {
  const out = await git(cwd, ["status", "--porcelain", "--untracked-files=all"]);
  return out.split("\n").filter(Boolean).map((l) => l.slice(3));
}

/** Paths under `path` that git tracks (repository-relative to `cwd`); none outside a repository or without git. */
export async function trackedPaths(cwd: string, path: string): Promise<string[]> {
  try {
    const result = await tryGit(cwd, ["ls-files", "-z", "--", path]);
    return result.code === 0 ? result.stdout.split("\0").filter(Boolean) : [];
  } catch {
    return [];
  }
}

/** The checked-out branch, or undefined on a detached HEAD. */
export async function currentBranch(cwd: string): Promise<string | undefined> {
  const result = await tryGit(cwd, ["symbolic-ref", "--quiet", "--short", "HEAD"]);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

export async function revParse(cwd: string, rev: string): Promise<string | undefined> {
  const result = await tryGit(cwd, ["rev-parse", "--verify", "--quiet", `${rev}^{commit}`]);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/** The remote's URL with insteadOf rules applied (where git really connects); `push`: its push URL. */
export async function remoteUrl(cwd: string, remote = "origin", push = false): Promise<string | undefined> {
  const result = await tryGit(cwd, ["remote", "get-url", ...(push ? ["--push"] : []), remote]);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/** Creates (or resets) `branch` at the current HEAD and checks it out. */
export async function checkoutNewBranch(cwd: string, branch: string): Promise<void> {
  await git(cwd, ["checkout", "--quiet", "-B", branch]);
}

export async function checkout(cwd: string, ref: string): Promise<void> {
  await git(cwd, ["checkout", "--quiet", ref]);
}

/**
 * A fresh machine or a CI runner often has no git identity; commits then fail with "Please tell
 * me who you are". Fall back to a bot identity (GitHub's own for Actions), never overriding one
 * that is configured.
 */
async function identityEnv(cwd: string): Promise<NodeJS.ProcessEnv> {
  const email = await tryGit(cwd, ["config", "user.email"]);
  if (email.code === 0 && email.stdout.trim() && !process.env.GIT_AUTHOR_EMAIL) return {};
  const actions = process.env.GITHUB_ACTIONS === "true";
  const name = actions ? "github-actions[bot]" : "gitops-bot";
  const mail = actions ? "41898282+github-actions[bot]@users.noreply.github.com" : "gitops-bot@users.noreply.github.com";
  return {
    GIT_AUTHOR_NAME: process.env.GIT_AUTHOR_NAME || name,
    GIT_AUTHOR_EMAIL: process.env.GIT_AUTHOR_EMAIL || mail,
    GIT_COMMITTER_NAME: process.env.GIT_COMMITTER_NAME || name,
    GIT_COMMITTER_EMAIL: process.env.GIT_COMMITTER_EMAIL || mail,
  };
}

export async function commitPaths(cwd: string, paths: string[], message: string): Promise<string> {
  await git(cwd, ["add", "--", ...paths]);
  await git(cwd, ["commit", "--quiet", "--no-verify", "-m", message, "--", ...paths], { env: await identityEnv(cwd) });
  return (await git(cwd, ["rev-parse", "HEAD"])).trim();
}

export type PushOutcome = { ok: true } | { ok: false; rejected: boolean; message: string };

export async function push(cwd: string, remote: string, branch: string, options: GitOptions = {}): Promise<PushOutcome> {
  const result = await tryGit(cwd, ["push", "--porcelain", remote, `HEAD:refs/heads/${branch}`], { timeoutMs: networkTimeoutMs(), ...options });
  if (result.code === 0) return { ok: true };
  const text = `${result.stdout}\n${result.stderr}`;
  const rejected = /\[rejected\]|non-fast-forward|fetch first|stale info|failed to update ref|cannot lock ref/i.test(text);
  return { ok: false, rejected, message: redact(result.stderr.trim() || result.stdout.trim(), options.secrets) };
}

export async function fetch(cwd: string, remote: string, refspec: string, options: GitOptions = {}): Promise<boolean> {
  const result = await tryGit(cwd, ["fetch", "--quiet", remote, refspec], { timeoutMs: networkTimeoutMs(), ...options });
  return result.code === 0;
}

/** Replays the current branch's own commits on top of `onto`; aborts and reports false on conflict. */
export async function rebase(cwd: string, onto: string): Promise<boolean> {
  const result = await tryGit(cwd, ["rebase", "--quiet", onto]);
  if (result.code === 0) return true;
  await tryGit(cwd, ["rebase", "--abort"]);
  return false;
}

/**
 * `rev:path` names a path from the top level of the git repository, `rev:./path` one from the
 * working directory (gitrevisions(7)). Callers name paths from the root they work on, which need
 * not be the top level: `--root examples/dreamseed` inside this repository, a GitOps folder in a
 * monorepo. Without this, they would read the top level's overlays/ instead of the root's.
 */
function fromCwd(object: string): string {
  const colon = object.indexOf(":");
  if (colon < 0) return object;
  const path = object.slice(colon + 1);
  return path.startsWith("./") || path.startsWith("/") ? object : `${object.slice(0, colon)}:./${path}`;
}

/** The content of `path` (relative to `cwd`) at `rev`, or undefined when it does not exist there. */
export async function showFile(cwd: string, rev: string, path: string): Promise<string | undefined> {
  const result = await tryGit(cwd, ["show", fromCwd(`${rev}:${path}`)]);
  return result.code === 0 ? result.stdout : undefined;
}

/** Writes the files of `rev` under `paths` into `dest`, without touching the index or work tree. */
export async function exportTree(cwd: string, rev: string, paths: string[], dest: string): Promise<void> {
  // Paths (given and listed) relative to cwd, which may be below the top level (see fromCwd).
  const listed = await git(cwd, ["ls-tree", "-r", "-z", rev, "--", ...paths]);
  const entries = listed
    .split("\0")
    .filter(Boolean)
    .map((line) => line.split("\t"))
    .map(([meta, file]) => ({ mode: meta?.split(" ")[0], type: meta?.split(" ")[1], file: file ?? "" }))
    .filter((e) => e.type === "blob");
  const blobs = await readObjects(cwd, entries.map((e) => fromCwd(`${rev}:${e.file}`)));
  for (const [i, { mode, file }] of entries.entries()) {
    await mkdir(dirname(join(dest, file)), { recursive: true });
    // Mode 120000 is a symbolic link whose blob is its target: written as the link it is (a plain
    // file holding the target path would break every render that goes through it; issue 11, item 9).
    if (mode === "120000") await symlink((blobs[i] ?? Buffer.alloc(0)).toString("utf8"), join(dest, file));
    else await writeFile(join(dest, file), blobs[i] ?? Buffer.alloc(0));
  }
}

export interface CommitEntry {
  sha: string;
  date: string;
  author: string;
  subject: string;
  /** Parent commits; more than one for a merge. */
  parents: string[];
}

/**
 * Commits of `rev`'s first-parent history that changed `path` (against their first parent),
 * newest first: on the default branch a merged pull request shows as its merge commit.
 */
export async function firstParentLog(cwd: string, rev: string, path: string): Promise<CommitEntry[]> {
  const out = await git(cwd, ["log", "--first-parent", "--format=%H%x1f%P%x1f%cI%x1f%an%x1f%s", rev, "--", path]);
  return out
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [sha = "", parents = "", date = "", author = "", subject = ""] = line.split("\x1f");
      return { sha, parents: parents.split(" ").filter(Boolean), date, author, subject };
    });
}

/** Raw blobs of several `rev:path` objects in one `git cat-file --batch`; undefined where there is no such blob. */
async function readObjects(cwd: string, objects: string[]): Promise<(Buffer | undefined)[]> {
  if (objects.length === 0) return [];
  const result = await runRaw("git", ["cat-file", "--batch"], { cwd, input: objects.map((o) => `${o}\n`).join("") });
  if (result.code !== 0) throw new ToolError(`git cat-file failed: ${result.stderr.trim()}`);
  const out: (Buffer | undefined)[] = [];
  let offset = 0;
  for (let i = 0; i < objects.length; i++) {
    const headerEnd = result.stdout.indexOf(0x0a, offset);
    const header = result.stdout.toString("utf8", offset, headerEnd).split(" ");
    offset = headerEnd + 1;
    // "<object> missing" / "<object> ambiguous" have no body; "<sha> <type> <size>" has size bytes and a newline.
    if (header.length !== 3 || !/^\d+$/.test(header[2] ?? "")) {
      out.push(undefined);
      continue;
    }
    const size = Number(header[2]);
    out.push(header[1] === "blob" ? result.stdout.subarray(offset, offset + size) : undefined);
    offset += size + 1;
  }
  return out;
}

/** The texts of several `rev:path` objects, read in one batch; undefined where there is no such file. */
export async function showFiles(cwd: string, objects: string[]): Promise<(string | undefined)[]> {
  return (await readObjects(cwd, objects.map(fromCwd))).map((b) => b?.toString("utf8"));
}

/** True when `ancestor` is `descendant` or one of its ancestors. */
export async function isAncestor(cwd: string, ancestor: string, descendant: string): Promise<boolean> {
  const result = await tryGit(cwd, ["merge-base", "--is-ancestor", ancestor, descendant]);
  return result.code === 0;
}
