// The GitHub layer against a fake server that checks every request against GitHub's OpenAPI
// description. Octokit itself is never mocked: what is asserted is what went over the wire.
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { GitHubError, PreconditionError } from "../tools/core/errors.ts";
import { createGitHubClient, describeGitHubError, redact, resolveRepository, type GitHubClientOptions } from "../tools/github/client.ts";
import { listOpenPullRequests, MAX_BODY, truncateBody, upsertComment, upsertPullRequest } from "../tools/github/pull-request.ts";
import { startFakeGitHub, type FakeGitHub } from "./support/fake-github.ts";

const owner = "ringlet";
const repo = "gitops";
const TOKEN = "ghp_FAKE0123456789abcdefghijklmnopqrstuv";
const started: FakeGitHub[] = [];

async function setup(client: Partial<GitHubClientOptions> = {}) {
  const gh = await startFakeGitHub({ owner, repo, token: TOKEN });
  started.push(gh);
  const logs: string[] = [];
  const octokit = createGitHubClient({ token: TOKEN, baseUrl: gh.url, log: (line) => logs.push(line), minRetryDelayMs: 1, ...client });
  return { gh, octokit, logs };
}

/** "METHOD /path?query" for each request, in order. */
function calls(gh: FakeGitHub): string[] {
  return gh.requests.map((r) => {
    const query = new URLSearchParams(r.query).toString();
    return `${r.method} ${r.path}${query ? `?${decodeURIComponent(query)}` : ""}`;
  });
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((gh) => gh.close()));
});

describe("upsertPullRequest", () => {
  it("creates a pull request against the default branch and labels it", async () => {
    const { gh, octokit } = await setup();
    const result = await upsertPullRequest(octokit, { owner, repo, head: "deploy/dev/abc", title: "Deploy abc to dev", body: "Images: abc", labels: ["deploy", "dev"] });

    expect(result).toEqual({ number: 1, url: `https://github.com/${owner}/${repo}/pull/1`, action: "created", superseded: [], newer: [] });
    expect(calls(gh)).toEqual([
      `GET /repos/${owner}/${repo}/pulls?state=open&head=${owner}:deploy/dev/abc`,
      `GET /repos/${owner}/${repo}`,
      `POST /repos/${owner}/${repo}/pulls`,
      `POST /repos/${owner}/${repo}/issues/1/labels`,
    ]);
    expect(gh.requests[2]?.body).toEqual({ head: "deploy/dev/abc", base: "main", title: "Deploy abc to dev", body: "Images: abc" });
    expect(gh.requests[3]?.body).toEqual({ labels: ["deploy", "dev"] });
    expect(gh.pulls).toMatchObject([{ number: 1, state: "open", head: "deploy/dev/abc", base: "main", labels: ["deploy", "dev"] }]);
    expect(gh.violations).toEqual([]);
  });

  it("updates the open pull request for the branch instead of opening a second one", async () => {
    const { gh, octokit } = await setup();
    gh.addPull({ head: "deploy/dev/abc", title: "old title", body: "old body" });
    // Same branch name pushed to a fork: GitHub labels it fork-owner:branch, and it is not ours.
    gh.addPull({ head: "deploy/dev/abc", headOwner: "someone-else" });

    const result = await upsertPullRequest(octokit, { owner, repo, head: "deploy/dev/abc", base: "main", title: "new title", body: "new body" });

    expect(result).toMatchObject({ number: 1, action: "updated" });
    expect(calls(gh)).toEqual([
      `GET /repos/${owner}/${repo}/pulls?state=open&head=${owner}:deploy/dev/abc&base=main`,
      `PATCH /repos/${owner}/${repo}/pulls/1`,
    ]);
    expect(gh.pulls[0]).toMatchObject({ title: "new title", body: "new body", state: "open" });
    expect(gh.pulls).toHaveLength(2);
    expect(gh.violations).toEqual([]);
  });

  it("supersedes older open pull requests under the prefix with a comment, and only those", async () => {
    const { gh, octokit } = await setup();
    const older = gh.addPull({ head: "deploy/dev/111" });
    const closed = gh.addPull({ head: "deploy/dev/000", state: "closed" });
    const prod = gh.addPull({ head: "deploy/prod/111" });
    const fork = gh.addPull({ head: "deploy/dev/999", headOwner: "someone-else" });

    const result = await upsertPullRequest(octokit, {
      owner,
      repo,
      head: "deploy/dev/222",
      title: "Deploy 222 to dev",
      body: "...",
      supersede: { headPrefix: "deploy/dev/", comment: (pr) => `Superseded by #${pr.number} (${pr.html_url}).` },
    });

    expect(result).toMatchObject({ number: 5, action: "created", superseded: [older.number] });
    expect(calls(gh).slice(3)).toEqual([
      `GET /repos/${owner}/${repo}/pulls?state=open&per_page=100`,
      // Looked at again right before closing: ours still open, theirs still open on that branch.
      `GET /repos/${owner}/${repo}/pulls/5`,
      `GET /repos/${owner}/${repo}/pulls/${older.number}`,
      `POST /repos/${owner}/${repo}/issues/${older.number}/comments`,
      `PATCH /repos/${owner}/${repo}/pulls/${older.number}`,
    ]);
    expect(gh.comments).toMatchObject([{ issueNumber: older.number, body: `Superseded by #5 (https://github.com/${owner}/${repo}/pull/5).` }]);
    expect(gh.requests.at(-1)?.body).toEqual({ state: "closed" });
    const states = Object.fromEntries(gh.pulls.map((p) => [p.number, p.state]));
    expect(states).toEqual({ [older.number]: "closed", [closed.number]: "closed", [prod.number]: "open", [fork.number]: "open", 5: "open" });
    expect(gh.violations).toEqual([]);
  });

  it("never closes a newer move, and re-checks each one right before closing it (issue 11.2)", async () => {
    const { gh, octokit } = await setup();
    const gone = gh.addPull({ head: "deploy/dev/v1.0.1" });
    const older = gh.addPull({ head: "deploy/dev/v1.0.2" });
    const newer = gh.addPull({ head: "deploy/dev/v3.0.0" });
    // Another run closes #gone between our list and our close: GitHub then says it is closed.
    gh.failNext(1, { status: 200, body: undefined }, (r) => {
      if (r.operationId !== "pulls/get" || r.path !== `/repos/${owner}/${repo}/pulls/${gone.number}`) return false;
      gh.pulls.find((p) => p.number === gone.number)!.state = "closed";
      return false;
    });
    const version = (head: string) => Number(head.split("/v")[1]!.replaceAll(".", ""));

    const result = await upsertPullRequest(octokit, {
      owner,
      repo,
      head: "deploy/dev/v2.0.0",
      title: "v2.0.0",
      body: "...",
      supersede: { headPrefix: "deploy/dev/", comment: () => "superseded", isOlder: (old) => version(old.head) < 200 },
    });

    expect(result.superseded).toEqual([older.number]);
    expect(result.newer.map((p) => p.number)).toEqual([newer.number]);
    const states = Object.fromEntries(gh.pulls.map((p) => [p.head, p.state]));
    expect(states).toEqual({ "deploy/dev/v1.0.1": "closed", "deploy/dev/v1.0.2": "closed", "deploy/dev/v3.0.0": "open", "deploy/dev/v2.0.0": "open" });
    // The one closed meanwhile got no comment; only the older one did.
    expect(gh.comments.map((c) => c.issueNumber)).toEqual([older.number]);
    expect(gh.violations).toEqual([]);
  });

  it("a garbled 200 is an error naming the request, not an undefined that travels on (issue 11.6)", async () => {
    const { gh, octokit } = await setup();
    gh.failNext(1, { status: 200, raw: "<html>proxy</html>" }, "pulls/create");

    const error = await caught(upsertPullRequest(octokit, { owner, repo, head: "deploy/dev/abc", base: "main", title: "t", body: "b" }));

    expect(error).toBeInstanceOf(GitHubError);
    expect(error.message).toBe(`GitHub's answer to POST /repos/${owner}/${repo}/pulls is not what GitHub documents (text that is not JSON ("<html>proxy</html>")); a proxy or a GitHub outage may be in the way: try again later`);
  });

  it("updates the pull request that appeared between its lookup and its create", async () => {
    const { gh, octokit } = await setup();
    // Another run opens the same PR just before our create lands; GitHub answers 422.
    gh.failNext(1, { status: 422, body: { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${owner}:deploy/dev/abc.` }] } }, (r) => {
      if (r.operationId !== "pulls/create") return false;
      gh.addPull({ head: "deploy/dev/abc", title: "theirs" });
      return true;
    });

    const result = await upsertPullRequest(octokit, { owner, repo, head: "deploy/dev/abc", title: "ours", body: "b" });

    expect(result).toMatchObject({ number: 1, action: "updated" });
    expect(gh.pulls).toMatchObject([{ number: 1, title: "ours" }]);
    expect(gh.violations).toEqual([]);
  });

  it("truncates a body over GitHub's limit and says so", async () => {
    const { gh, octokit } = await setup();
    await upsertPullRequest(octokit, { owner, repo, head: "deploy/dev/big", title: "big", body: `${"x".repeat(80)}\n`.repeat(1000) });
    const body = gh.pulls[0]?.body ?? "";
    expect(body.length).toBeLessThanOrEqual(MAX_BODY);
    expect(body).toMatch(/Truncated: this text exceeded GitHub's 65,536-character limit/);
    expect(gh.violations).toEqual([]);
  });
});

describe("truncateBody", () => {
  it("leaves short text alone and never splits a surrogate pair", () => {
    expect(truncateBody("short")).toBe("short");
    const emoji = "😀".repeat(40_000); // 80,000 UTF-16 units, no line breaks
    const out = truncateBody(emoji);
    expect(out.length).toBeLessThanOrEqual(MAX_BODY);
    expect(out).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe("retries and rate limits", () => {
  it("retries a 502 and still opens exactly one pull request", async () => {
    const { gh, octokit } = await setup();
    gh.failNext(1, { status: 502, body: { message: "Server Error" } }, "pulls/create");

    const result = await upsertPullRequest(octokit, { owner, repo, head: "deploy/dev/abc", title: "t", body: "b" });

    expect(result.action).toBe("created");
    expect(calls(gh).filter((c) => c.startsWith("POST"))).toHaveLength(2);
    expect(gh.pulls).toHaveLength(1);
    expect(gh.violations).toEqual([]);
  });

  it("gives up after the configured number of retries with GitHub's status and message", async () => {
    const { gh, octokit } = await setup({ retries: 2 });
    gh.failNext(10, { status: 503, body: { message: "Service Unavailable" } });

    const error = await caught(listOpenPullRequests(octokit, { owner, repo, headPrefix: "deploy/" }));

    expect(error).toBeInstanceOf(GitHubError);
    expect(error.message).toBe(`GitHub returned 503 for ${owner}/${repo}: Service Unavailable`);
    expect(gh.requests).toHaveLength(3);
  });

  it("waits out a secondary rate limit, logs it once, then succeeds", async () => {
    const { gh, octokit, logs } = await setup();
    gh.failNext(1, { status: 403, headers: { "retry-after": "1" }, body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." } }, "pulls/create");

    const result = await upsertPullRequest(octokit, { owner, repo, head: "deploy/dev/abc", title: "t", body: "b" });

    expect(result.action).toBe("created");
    expect(gh.pulls).toHaveLength(1);
    expect(logs).toEqual(["GitHub secondary rate limit reached on POST /repos/{owner}/{repo}/pulls; retrying in 1s (1/3)."]);
    expect(gh.violations).toEqual([]);
  });

  it("does not sit out a primary rate limit that resets far in the future", async () => {
    const { gh, octokit, logs } = await setup();
    const reset = Math.floor(Date.now() / 1000) + 3600;
    gh.failNext(1, { status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) }, body: { message: "API rate limit exceeded for installation." } });

    const error = await caught(listOpenPullRequests(octokit, { owner, repo, headPrefix: "deploy/" }));

    expect(error.message).toBe(
      `GitHub rate limit exceeded for ${owner}/${repo} (403 API rate limit exceeded for installation.); it resets at ${new Date(reset * 1000).toISOString()}; wait and run again.`,
    );
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^GitHub rate limit reached on GET .*; giving up/);
  });
});

describe("deadlines and where the token may go (issue 11, items 3 and 5)", () => {
  it("a server that accepts and never answers: each attempt is cut off, retried with a notice, and the step gives up at its deadline", async () => {
    const { gh, octokit, logs } = await setup({ requestTimeoutMs: 300, phaseTimeoutMs: 2000 });
    gh.failNext(50, { status: 200, hang: true }, "repos/get");

    const started = Date.now();
    const error = await caught(octokit.rest.repos.get({ owner, repo }));
    const elapsed = Date.now() - started;

    expect(error).toBeInstanceOf(GitHubError);
    expect((error as GitHubError).timedOut).toBe(true);
    expect(error.message).toMatch(/^GitHub did not (answer GET \/repos\/ringlet\/gitops within 0\.3 s|finish within 2 s)/);
    expect(logs.some((l) => l.startsWith(`GitHub did not answer GET /repos/${owner}/${repo} within 0.3 s (GITOPS_GITHUB_REQUEST_TIMEOUT_S); retrying`))).toBe(true);
    // 1 try + 3 retries of 0.3 s plus short waits, never more than the step's deadline (and some slack for a busy machine).
    expect(elapsed).toBeLessThan(10_000);
    expect(gh.requests.filter((r) => r.operationId === "repos/get").length).toBeGreaterThanOrEqual(2);
  });

  it("refuses a plain-http API URL off this machine (the token would travel in clear text), accepts localhost", () => {
    for (const url of ["http://github.example.com/api/v3", "http://10.0.0.5", "ftp://api.github.com"]) {
      expect(() => createGitHubClient({ token: TOKEN, baseUrl: url }), url).toThrow(PreconditionError);
    }
    expect(() => createGitHubClient({ token: TOKEN, baseUrl: "http://github.example.com" })).toThrow("is plain http: the token would travel in clear text");
    for (const url of ["http://127.0.0.1:8080", "http://localhost:3000/api/v3", "https://ghe.example.com/api/v3"]) {
      expect(() => createGitHubClient({ token: TOKEN, baseUrl: url }), url).not.toThrow();
    }
  });
});

describe("errors say what to fix and never show the token", () => {
  it("401: the token is invalid or expired", async () => {
    const { gh } = await setup();
    const wrong = "ghp_WRONG0123456789abcdefghijklmnopqrstu";
    const octokit = createGitHubClient({ token: wrong, baseUrl: gh.url, log: () => undefined, minRetryDelayMs: 1 });

    const error = await caught(upsertPullRequest(octokit, { owner, repo, head: "x", title: "t", body: "b" }));

    expect(error).toBeInstanceOf(GitHubError);
    expect(error.message).toBe("GitHub rejected the token (401 Bad credentials): it is invalid or expired; set GITHUB_TOKEN to a valid token.");
    expect((error as GitHubError).status).toBe(401);
    expect(inspect(error, { depth: Infinity })).not.toContain(wrong);
  });

  it("403: the token lacks permission", async () => {
    const { gh, octokit } = await setup();
    gh.failNext(1, { status: 403, body: { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest" } });

    const error = await caught(listOpenPullRequests(octokit, { owner, repo, headPrefix: "deploy/" }));

    expect(error.message).toBe(
      `GitHub denied access to ${owner}/${repo} (403 Resource not accessible by integration): the token lacks permission; it needs contents: write and pull-requests: write on ${owner}/${repo}.`,
    );
  });

  it("404: the repository does not exist or the token cannot see it", async () => {
    const { octokit } = await setup();

    const error = await caught(upsertPullRequest(octokit, { owner, repo: "nope", head: "x", title: "t", body: "b" }));

    expect(error.message).toBe(
      `Repository ${owner}/nope not found, or the token cannot see it (404): check GITHUB_REPOSITORY or the origin remote, and the token's repository access.`,
    );
  });

  it("unreachable API: says where it tried", async () => {
    const { gh, octokit } = await setup({ retries: 0 });
    await gh.close();

    const error = await caught(listOpenPullRequests(octokit, { owner, repo, headPrefix: "deploy/" }));

    expect(error.message).toMatch(new RegExp(`^Could not reach GitHub at ${gh.url}: .+; check GITHUB_API_URL and the network\\.$`));
  });

  it("keeps the token out of messages, stacks, request details and log lines, even when GitHub echoes it", async () => {
    const { gh, octokit, logs } = await setup();
    const echo = { status: 400, body: { message: `Problems parsing token ${TOKEN}` } };
    // A deprecation notice is logged with GitHub's link in it; here the link carries the token.
    gh.failNext(1, { status: 200, headers: { deprecation: "true", sunset: "soon", link: `<https://docs.example/${TOKEN}>; rel="deprecation"` }, body: [] });
    gh.failNext(1, { status: 403, headers: { "retry-after": "0" }, body: { message: `secondary rate limit for ${TOKEN}` } });
    gh.failNext(2, echo);

    expect(await listOpenPullRequests(octokit, { owner, repo, headPrefix: "deploy/" })).toEqual([]);
    const helperError = await caught(listOpenPullRequests(octokit, { owner, repo, headPrefix: "deploy/" }));
    const rawError = await caught(octokit.rest.pulls.get({ owner, repo, pull_number: 1 }));

    expect(helperError.message).toBe(`GitHub returned 400 for ${owner}/${repo}: Problems parsing token ***`);
    for (const error of [helperError, rawError]) {
      expect(inspect(error, { depth: Infinity })).not.toContain(TOKEN);
      expect(JSON.stringify(error)).not.toContain(TOKEN);
      expect(error.stack).not.toContain(TOKEN);
    }
    expect(logs).toHaveLength(2);
    expect(logs[0]).toContain("https://docs.example/***");
    expect(logs.join("\n")).not.toContain(TOKEN);
    // The fake did receive it: the redaction is ours, not an absent token.
    expect(gh.requests[0]?.headers.authorization).toBe(`token ${TOKEN}`);
  });

  it("describeGitHubError passes a GitHubError through and describes anything else", () => {
    const mine = new GitHubError("already one line", 409);
    expect(describeGitHubError(mine, { owner, repo })).toBe(mine);
    expect(describeGitHubError("boom", { owner, repo }).message).toBe("Could not reach GitHub: boom; check GITHUB_API_URL and the network.");
  });

  it("redact replaces every occurrence, longest secret first", () => {
    expect(redact("a SECRET b SECRET-LONG c", ["SECRET", "SECRET-LONG", ""])).toBe("a *** b *** c");
    expect(redact("nothing here", [])).toBe("nothing here");
  });
});

describe("upsertComment", () => {
  it("creates the marked comment once, then edits it in place, even past the first page", async () => {
    const { gh, octokit } = await setup();
    const pr = gh.addPull({ head: "deploy/dev/abc" });
    for (let id = 1; id <= 120; id++) {
      gh.comments.push({ id, issueNumber: pr.number, body: `chatter ${id}`, createdAt: "", updatedAt: "" });
    }
    const marker = "<!-- gitops:rendered-diff -->";

    const first = await upsertComment(octokit, { owner, repo, issueNumber: pr.number, marker, body: "diff v1" });
    const second = await upsertComment(octokit, { owner, repo, issueNumber: pr.number, marker, body: "diff v2" });

    expect(first.action).toBe("created");
    expect(second).toEqual({ id: first.id, action: "updated" });
    const ours = gh.comments.filter((c) => c.body.includes(marker));
    expect(ours).toMatchObject([{ id: first.id, body: `${marker}\ndiff v2` }]);
    expect(calls(gh).slice(-3)).toEqual([
      `GET /repos/${owner}/${repo}/issues/${pr.number}/comments?per_page=100`,
      `GET /repos/${owner}/${repo}/issues/${pr.number}/comments?per_page=100&page=2`,
      `PATCH /repos/${owner}/${repo}/issues/comments/${first.id}`,
    ]);
    expect(gh.violations).toEqual([]);
  });
});

describe("listOpenPullRequests", () => {
  it("lists open PRs from our branches under the prefix, across pages", async () => {
    const { gh, octokit } = await setup();
    for (let i = 0; i < 110; i++) gh.addPull({ head: `feature/${i}` });
    const dev = gh.addPull({ head: "deploy/dev/abc", title: "Deploy abc" });
    gh.addPull({ head: "deploy/dev/old", state: "closed" });
    gh.addPull({ head: "deploy/dev/fork", headOwner: "someone-else" });

    const list = await listOpenPullRequests(octokit, { owner, repo, headPrefix: "deploy/dev/" });

    expect(list).toEqual([{ number: dev.number, title: "Deploy abc", url: `https://github.com/${owner}/${repo}/pull/${dev.number}`, head: "deploy/dev/abc" }]);
    expect(gh.requests).toHaveLength(2);
    expect(gh.violations).toEqual([]);
  });
});

describe("resolveRepository", () => {
  const ok: Array<[string, NodeJS.ProcessEnv, string | undefined, { owner: string; repo: string }]> = [
    ["GITHUB_REPOSITORY", { GITHUB_REPOSITORY: "acme/gitops" }, undefined, { owner: "acme", repo: "gitops" }],
    ["GITHUB_REPOSITORY wins over origin", { GITHUB_REPOSITORY: "acme/gitops" }, "https://github.com/other/thing.git", { owner: "acme", repo: "gitops" }],
    ["empty GITHUB_REPOSITORY is unset", { GITHUB_REPOSITORY: "" }, "https://github.com/o/r", { owner: "o", repo: "r" }],
    ["https", {}, "https://github.com/o/r.git", { owner: "o", repo: "r" }],
    ["https, no .git, trailing slash", {}, "https://github.com/o/r/", { owner: "o", repo: "r" }],
    ["https with credentials", {}, "https://x-access-token:abc@github.com/o/r.git", { owner: "o", repo: "r" }],
    ["scp-like ssh", {}, "git@github.com:o/r.git", { owner: "o", repo: "r" }],
    ["ssh URL with port", {}, "ssh://git@github.example.com:2222/o/r.git", { owner: "o", repo: "r" }],
    ["GitHub Enterprise https", {}, "https://github.acme.internal/platform/ringlet-gitops.git", { owner: "platform", repo: "ringlet-gitops" }],
    ["dots and dashes", {}, "git@github.com:my-org/my.repo_1.git", { owner: "my-org", repo: "my.repo_1" }],
  ];
  it.each(ok)("%s", (_name, env, originUrl, expected) => {
    expect(resolveRepository({ env, originUrl })).toEqual(expected);
  });

  const bad: Array<[string, NodeJS.ProcessEnv, string | undefined, RegExp]> = [
    ["nothing", {}, undefined, /set GITHUB_REPOSITORY=owner\/repo or add a GitHub remote named origin/],
    ["malformed GITHUB_REPOSITORY", { GITHUB_REPOSITORY: "just-a-name" }, undefined, /GITHUB_REPOSITORY must be "owner\/repo", got "just-a-name"/],
    ["three-part GITHUB_REPOSITORY", { GITHUB_REPOSITORY: "a/b/c" }, undefined, /must be "owner\/repo"/],
    ["absolute path", {}, "/srv/git/gitops.git", /local path \(\/srv\/git\/gitops.git\), not a GitHub URL/],
    ["relative path", {}, "../gitops", /local path/],
    ["file URL", {}, "file:///srv/git/gitops.git", /local path/],
    ["Windows path", {}, "C:\\repos\\gitops", /local path/],
    ["too deep", {}, "https://gitlab.com/group/sub/r.git", /does not name a GitHub repository/],
    ["dot-dot repository", { GITHUB_REPOSITORY: "acme/.." }, undefined, /must be "owner\/repo"/],
  ];
  it.each(bad)("%s", (_name, env, originUrl, message) => {
    expect(() => resolveRepository({ env, originUrl })).toThrow(PreconditionError);
    expect(() => resolveRepository({ env, originUrl })).toThrow(message);
  });

  it("does not echo credentials from the origin URL", () => {
    const error = (() => {
      try {
        resolveRepository({ env: {}, originUrl: "https://x-access-token:s3cr3t@github.com/only-owner" });
      } catch (e) {
        return e as Error;
      }
      throw new Error("expected a throw");
    })();
    expect(error.message).toContain("https://***@github.com/only-owner");
    expect(error.message).not.toContain("s3cr3t");
  });
});

describe("the fake GitHub itself", () => {
  it("rejects an undocumented route and a body that breaks the schema", async () => {
    const { gh, octokit } = await setup();
    const headers = { authorization: `token ${TOKEN}`, "content-type": "application/json" };

    const undocumented = await fetch(`${gh.url}/repos/${owner}/${repo}/pulls/1/explode`, { method: "POST", headers, body: "{}" });
    const badCreate = await fetch(`${gh.url}/repos/${owner}/${repo}/pulls`, { method: "POST", headers, body: JSON.stringify({ head: 7, title: "t" }) });
    const badState = await caught(
      // @ts-expect-error -- "merged" is not a state GitHub accepts; that is the point.
      octokit.request("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", { owner, repo, pull_number: 1, state: "merged" }),
    );
    const badQuery = await caught(octokit.request("GET /repos/{owner}/{repo}/pulls", { owner, repo, headPrefix: "deploy/" }));

    expect(undocumented.status).toBe(404);
    expect(badCreate.status).toBe(422);
    expect((badState as GitHubError & { status: number }).status).toBe(422);
    expect((badQuery as GitHubError & { status: number }).status).toBe(422);
    expect(gh.violations).toEqual([
      `POST /repos/${owner}/${repo}/pulls/1/explode: no documented GitHub operation`,
      `POST /repos/${owner}/${repo}/pulls (pulls/create): body must have required property 'base'`,
      `POST /repos/${owner}/${repo}/pulls (pulls/create): body/head must be string`,
      `PATCH /repos/${owner}/${repo}/pulls/1 (pulls/update): body/state must be equal to one of the allowed values`,
      `GET /repos/${owner}/${repo}/pulls (pulls/list): query parameter "headPrefix" is not documented`,
    ]);
    expect(gh.pulls).toEqual([]);
  });

  it("answers 401 to a request without the expected token", async () => {
    const { gh } = await setup();
    const response = await fetch(`${gh.url}/repos/${owner}/${repo}`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ message: "Bad credentials" });
    expect(gh.violations).toEqual([]);
  });
});
