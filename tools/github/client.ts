// The one place that builds an Octokit. Everything GitHub-facing goes through it so retries,
// rate limits and token hygiene are handled once, not per command.
import { format } from "node:util";
import { retry } from "@octokit/plugin-retry";
import { throttling, type ThrottlingOptions } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import { GitHubError, PreconditionError } from "../core/errors.ts";
import { redact } from "../core/secrets.ts";
import { progress } from "../core/term.ts";

const GitHubOctokit = Octokit.plugin(retry, throttling);
export type GitHubClient = InstanceType<typeof GitHubOctokit>;

export interface GitHubClientOptions {
  token: string;
  /** Defaults to GITHUB_API_URL (set by Actions, also on GitHub Enterprise), then api.github.com. */
  baseUrl?: string;
  /** Receives one-line notices (rate limits, deprecations), already redacted. Default: stderr via progress(). */
  log?: (line: string) => void;
  /** How often a request is retried after a 5xx or a rate limit. Default 3. */
  retries?: number;
  /**
   * The length of one "second" of waiting, in ms. Default 1000. The first 5xx retry waits this
   * long (then 4x, 9x), a Retry-After of N waits N times this, and writes are spaced by it as
   * GitHub asks. Tests pass 1 so a full retry sequence takes milliseconds.
   */
  minRetryDelayMs?: number;
  /** No single HTTP attempt may take longer (ms). Default GITOPS_GITHUB_REQUEST_TIMEOUT_S, else 30 s. */
  requestTimeoutMs?: number;
  /**
   * Every request of this client must be done within this many ms of its first one (retries and
   * waits included): one client per GitHub step. Default GITOPS_GITHUB_TIMEOUT_S, else 300 s.
   */
  phaseTimeoutMs?: number;
}

/** Seconds from an environment variable (fractions allowed), in ms; `fallback` when unset or not a positive number. */
function secondsFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value * 1000 : fallback * 1000;
}

const isLoopback = (host: string) => host === "localhost" || host === "[::1]" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * The API URL to talk to. The token travels in every request's Authorization header, so plain
 * http is refused unless it stays on this machine (a local test server).
 */
export function checkApiUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new PreconditionError(`GITHUB_API_URL ${JSON.stringify(baseUrl)} is not a URL`);
  }
  if (url.protocol === "https:") return baseUrl;
  if (url.protocol === "http:" && isLoopback(url.hostname)) return baseUrl;
  throw new PreconditionError(
    `GITHUB_API_URL ${url.origin} is plain ${url.protocol.replace(/:$/, "")}: the token would travel in clear text; use https (plain http is accepted only for localhost)`,
  );
}

// A primary rate limit can reset an hour away; hanging a CI job that long helps nobody.
const MAX_RATE_LIMIT_WAIT_SECONDS = 15 * 60;

export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const { token } = options;
  if (!token) throw new PreconditionError("No GitHub token: set GITHUB_TOKEN.");
  const secrets = [token];
  const log = (line: string) => (options.log ?? progress)(oneLine(redact(line, secrets)));
  const retries = options.retries ?? 3;
  // GITOPS_GITHUB_RETRY_UNIT_MS lets end-to-end tests of the CLI shrink the waits too.
  const unit = options.minRetryDelayMs ?? (Number(process.env.GITOPS_GITHUB_RETRY_UNIT_MS) || 1000);
  const baseUrl = checkApiUrl((options.baseUrl ?? (process.env.GITHUB_API_URL || "https://api.github.com")).replace(/\/+$/, ""));
  const requestTimeoutMs = options.requestTimeoutMs ?? secondsFromEnv("GITOPS_GITHUB_REQUEST_TIMEOUT_S", 30);
  const phaseTimeoutMs = options.phaseTimeoutMs ?? secondsFromEnv("GITOPS_GITHUB_TIMEOUT_S", 300);
  // A GitHub step (all requests of this client) has one deadline, counted from its first
  // request: when it passes, the request in flight is aborted and nothing is retried any more
  // (a server that accepts and never answers once held a run for 20 minutes).
  const phase = new AbortController();
  let startedAt: number | undefined;
  const doNotRetry = [400, 401, 403, 404, 410, 422, 451];
  const startPhase = () => {
    if (startedAt !== undefined) return;
    startedAt = Date.now();
    const timer = setTimeout(() => {
      doNotRetry.push(500, 502, 503, 504);
      phase.abort(new Error("deadline"));
    }, phaseTimeoutMs);
    timer.unref();
  };
  const remainingSeconds = () => Math.max(0, (phaseTimeoutMs - (Date.now() - (startedAt ?? Date.now()))) / 1000);
  // Each HTTP attempt gets its own deadline, under the phase's. Octokit turns a failed fetch into
  // a 500 that the retry plugin retries; the notice says so, so a wait is never silent.
  const timedFetch = async (url: string | URL, init: RequestInit = {}) => {
    startPhase();
    const attempt = AbortSignal.timeout(requestTimeoutMs);
    const signal = AbortSignal.any([attempt, phase.signal, ...(init.signal ? [init.signal] : [])]);
    const what = `${init.method ?? "GET"} ${pathOf(String(url))}`;
    try {
      const response = await fetch(url, { ...init, signal });
      if (response.status >= 500 && !phase.signal.aborted) log(`GitHub answered ${response.status} to ${what}; retrying (up to ${retries} times)`);
      return response;
    } catch (error) {
      if (phase.signal.aborted) throw new GitHubTimeout(`GitHub did not finish within ${phaseTimeoutMs / 1000} s (GITOPS_GITHUB_TIMEOUT_S); the last request was ${what}`);
      if (attempt.aborted) {
        log(`GitHub did not answer ${what} within ${requestTimeoutMs / 1000} s (GITOPS_GITHUB_REQUEST_TIMEOUT_S); retrying (up to ${retries} times, ${Math.round(remainingSeconds())} s left)`);
        throw new GitHubTimeout(`GitHub did not answer ${what} within ${requestTimeoutMs / 1000} s (GITOPS_GITHUB_REQUEST_TIMEOUT_S)`);
      }
      throw error;
    }
  };

  const onLimit = (kind: string) => (retryAfter: number, request: { method: string; url: string }, _o: unknown, retryCount: number) => {
    const what = `${kind} on ${request.method} ${request.url}`;
    if (retryAfter * (unit / 1000) > remainingSeconds()) {
      log(`GitHub ${what}; giving up: the wait (${retryAfter}s) would pass the GitHub deadline (GITOPS_GITHUB_TIMEOUT_S).`);
      return false;
    }
    if (retryCount >= retries || retryAfter > MAX_RATE_LIMIT_WAIT_SECONDS) {
      log(`GitHub ${what}; giving up (retry after ${retryAfter}s, ${retryCount} retries done).`);
      return false;
    }
    log(`GitHub ${what}; retrying in ${retryAfter}s (${retryCount + 1}/${retries}).`);
    return true;
  };

  const octokitLog = {
    debug: () => undefined,
    info: () => undefined,
    warn: (...args: unknown[]) => log(`GitHub: ${format(...args)}`),
    // Only the request-log plugin uses error(), once per failed attempt; the final failure
    // reaches the caller as an exception, and retries get their own notice.
    error: () => undefined,
  };
  const octokit = new GitHubOctokit({
    auth: token,
    baseUrl,
    userAgent: "gitops-kit",
    log: octokitLog,
    // @octokit/request logs deprecation notices to `console` unless given a logger here.
    request: { log: octokitLog, fetch: timedFetch },
    retry: { retries, retryAfterBaseValue: unit, doNotRetry },
    throttle: {
      retryAfterBaseValue: unit,
      onRateLimit: onLimit("rate limit reached"),
      onSecondaryRateLimit: onLimit("secondary rate limit reached"),
      // The plugin's own spacing groups are process-wide with fixed 1 s/2 s/3 s gaps; ours scale
      // with `unit` and belong to this client (at the default unit, the same 1 s/2 s/3 s).
      write: spaced(unit),
      search: spaced(2 * unit),
      notifications: spaced(3 * unit),
    },
  });

  // Registered last, so it wraps the plugins and sees only the final error of a request.
  octokit.hook.error("request", (error) => {
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof GitHubTimeout || phase.signal.aborted) {
      throw new GitHubError(redact(cause instanceof GitHubTimeout ? cause.message : `GitHub did not finish within ${phaseTimeoutMs / 1000} s (GITOPS_GITHUB_TIMEOUT_S)`, secrets), undefined, true);
    }
    throw scrubError(error, secrets);
  });
  return octokit;
}

/** A request or the phase ran out of time (the message says which); becomes a GitHubError with timedOut set. */
class GitHubTimeout extends Error {
  override name = "GitHubTimeout";
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

export { redact } from "../core/secrets.ts";

interface HttpErrorLike {
  status?: unknown;
  message?: unknown;
  request?: { method?: string; url?: string };
  response?: { headers?: Record<string, string | undefined>; data?: unknown };
}

/** Turns a failed GitHub request into one line that says what to fix. Never includes headers. */
export function describeGitHubError(error: unknown, context: { owner: string; repo: string }): GitHubError {
  if (error instanceof GitHubError) return error;
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof GitHubTimeout) return new GitHubError(cause.message, undefined, true);
  const e = (typeof error === "object" && error !== null ? error : { message: String(error) }) as HttpErrorLike;
  const slug = `${context.owner}/${context.repo}`;
  const status = typeof e.status === "number" ? e.status : undefined;
  const message = githubMessage(e);
  const fail = (text: string) => new GitHubError(oneLine(text), status);

  if (status === undefined || e.response === undefined) {
    const where = e.request?.url ? ` at ${hostOf(e.request.url)}` : "";
    return fail(`Could not reach GitHub${where}: ${message}; check GITHUB_API_URL and the network.`);
  }
  if (status === 401) {
    return fail(`GitHub rejected the token (401 ${message}): it is invalid or expired; set GITHUB_TOKEN to a valid token.`);
  }
  if (isRateLimit(status, e, message)) {
    const reset = Number(e.response.headers?.["x-ratelimit-reset"]);
    const when = reset > 0 ? `; it resets at ${new Date(reset * 1000).toISOString()}` : "";
    return fail(`GitHub rate limit exceeded for ${slug} (${status} ${message})${when}; wait and run again.`);
  }
  if (status === 403) {
    return fail(
      `GitHub denied access to ${slug} (403 ${message}): the token lacks permission; ` +
        `it needs contents: write and pull-requests: write on ${slug}.`,
    );
  }
  if (status === 404) {
    return fail(
      `Repository ${slug} not found, or the token cannot see it (404): ` +
        `check GITHUB_REPOSITORY or the origin remote, and the token's repository access.`,
    );
  }
  return fail(`GitHub returned ${status} for ${slug}: ${message}`);
}

function isRateLimit(status: number, e: HttpErrorLike, message: string): boolean {
  if (status === 429) return true;
  return status === 403 && (e.response?.headers?.["x-ratelimit-remaining"] === "0" || /rate limit/i.test(message));
}

// GitHub's own message plus the per-field errors (they hold the useful part of a 422), without
// the documentation URL Octokit appends.
function githubMessage(e: HttpErrorLike): string {
  const data = e.response?.data as { message?: unknown; errors?: unknown } | undefined;
  if (data && typeof data.message === "string") {
    const details = Array.isArray(data.errors)
      ? data.errors.map((d: { message?: unknown; code?: unknown; field?: unknown }) =>
          typeof d?.message === "string" ? d.message : [d?.field, d?.code].filter(Boolean).join(" "),
        )
      : [];
    return [data.message, ...details.filter(Boolean)].join(": ");
  }
  return typeof e.message === "string" && e.message ? e.message : "unknown error";
}

// Octokit already masks the authorization header, but the error still carries every request
// header, and GitHub or a proxy may echo the token in a message. Scrub all of it on the way out.
function scrubError(error: unknown, secrets: string[]): unknown {
  if (!(error instanceof Error)) return error;
  error.message = redact(error.message, secrets);
  if (error.stack) error.stack = redact(error.stack, secrets);
  const e = error as Error & HttpErrorLike;
  if (e.request) e.request = { method: e.request.method, url: redact(e.request.url ?? "", secrets) };
  if (e.response && e.response.data !== undefined) {
    const json = JSON.stringify(e.response.data);
    if (json !== undefined && secrets.some((s) => s && json.includes(s))) e.response.data = JSON.parse(redact(json, secrets));
  }
  return error;
}

// "." and ".." pass the character check but would walk out of /repos/{owner}/{repo} in a URL.
const validName = (name: string | undefined): name is string => !!name && /^[A-Za-z0-9_.-]+$/.test(name) && !/^\.\.?$/.test(name);

/**
 * Which repository to talk to: GITHUB_REPOSITORY (set by Actions) wins, else the origin remote.
 * Pass `originUrl` from `git remote get-url origin`; this function runs no git itself.
 */
export function resolveRepository(options: { env: NodeJS.ProcessEnv; originUrl?: string }): { owner: string; repo: string } {
  const fromEnv = options.env.GITHUB_REPOSITORY?.trim();
  if (fromEnv) {
    const [owner, repo, ...rest] = fromEnv.split("/");
    if (validName(owner) && validName(repo) && rest.length === 0) return { owner, repo };
    throw new PreconditionError(`GITHUB_REPOSITORY must be "owner/repo", got "${fromEnv}".`);
  }
  const url = options.originUrl?.trim();
  if (!url) {
    throw new PreconditionError(
      "Cannot tell which GitHub repository to use: set GITHUB_REPOSITORY=owner/repo or add a GitHub remote named origin.",
    );
  }
  const path = remotePath(url);
  const segments = path.replace(/^\/+|\/+$/g, "").replace(/\.git$/, "").split("/");
  const [owner, repo] = segments;
  if (segments.length === 2 && validName(owner) && validName(repo)) return { owner, repo };
  throw new PreconditionError(
    `The origin remote ${safeUrl(url)} does not name a GitHub repository (expected <host>/owner/repo); set GITHUB_REPOSITORY=owner/repo.`,
  );
}

// The path part of a git remote; rejects local paths, which have no GitHub owner to speak of.
function remotePath(url: string): string {
  const local = () =>
    new PreconditionError(
      `The origin remote is a local path (${url}), not a GitHub URL; set GITHUB_REPOSITORY=owner/repo.`,
    );
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    if (/^file:/i.test(url)) throw local();
    try {
      return new URL(url).pathname;
    } catch {
      throw new PreconditionError(`The origin remote ${safeUrl(url)} is not a valid URL; set GITHUB_REPOSITORY=owner/repo.`);
    }
  }
  // scp-like syntax (git@host:owner/repo.git); as in git, a drive letter (C:\) is a path.
  const scp = /^(?:[^@/]+@)?[^:/]+:(.+)$/.exec(url);
  if (scp?.[1] && !/^[A-Za-z]:[\\/]/.test(url)) return scp[1];
  throw local();
}

// Remote URLs may carry credentials (https://x-access-token:TOKEN@github.com/...).
function safeUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, "$1***@");
}

function hostOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "the configured API URL";
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * A stand-in for a Bottleneck group (the plugin calls `.key(id).schedule(opts, job)`): runs jobs
 * one at a time, starting each at least `gapMs` after the previous one started.
 */
function spaced(gapMs: number): BottleneckGroup {
  let chain: Promise<unknown> = Promise.resolve();
  let nextStart = 0;
  const limiter = {
    schedule<T>(_options: unknown, job: (...args: unknown[]) => Promise<T>, ...args: unknown[]): Promise<T> {
      const run = chain.then(async () => {
        const wait = nextStart - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        nextStart = Date.now() + gapMs;
        return job(...args);
      });
      chain = run.catch(() => undefined);
      return run;
    },
  };
  return { key: () => limiter } as unknown as BottleneckGroup;
}

type BottleneckGroup = NonNullable<ThrottlingOptions["write"]>;
