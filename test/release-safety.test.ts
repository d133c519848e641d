// Release safety (issue 11, items 1-6): what a tag move does when something else is going on:
// a deploy branch someone else pushed, a second run in the same clone, a GitHub that never
// answers or answers garbage, a run killed half-way, a token and a host that do not belong
// together. Real git with a bare origin, the CLI as a child process, the fake GitHub API.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { redact } from "../tools/core/secrets.ts";
import { startFakeGitHub, type FakeGitHub } from "./support/fake-github.ts";
import { cleanEnv, testRepos, TSX_LOADER, type TestRepo } from "./support/repo.ts";

const exec = promisify(execFile);
const OWNER = "ringlet";
const REPO = "ringlet-gitops";
const TOKEN = "ghs_SAFETYTOKEN0123456789";
const DEV = "overlays/dev/kustomization.yaml";
const B64_HEADER = Buffer.from(`x-access-token:${TOKEN}`).toString("base64");
// The machine running the suite is shared; child processes get generous deadlines.
const SLOW = 240_000;

const newRepo = testRepos();
const fakes: FakeGitHub[] = [];
async function newFake(): Promise<FakeGitHub> {
  const gh = await startFakeGitHub({ owner: OWNER, repo: REPO, token: TOKEN });
  fakes.push(gh);
  return gh;
}
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(fakes.splice(0).map((gh) => gh.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function tokenEnv(gh: FakeGitHub, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: `${OWNER}/${REPO}`, GITOPS_GITHUB_RETRY_UNIT_MS: "1", ...extra };
}

function noToken(r: { stdout: string; stderr: string }) {
  for (const text of [r.stdout, r.stderr]) {
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(B64_HEADER);
  }
}

async function originRefs(repo: TestRepo): Promise<Record<string, string>> {
  const out = (await exec("git", ["for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads"], { cwd: repo.origin, env: cleanEnv() })).stdout;
  return Object.fromEntries(out.split("\n").filter(Boolean).map((l) => l.split(" ") as [string, string]));
}

/** Pushes `branch` to the origin from another clone, with `edit` applied on top of main. */
async function pushFromElsewhere(repo: TestRepo, branch: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const elsewhere = await mkdtemp(join(tmpdir(), "ringlet-other-"));
  dirs.push(elsewhere);
  const clone = join(elsewhere, "clone");
  const git = async (...args: string[]) => (await exec("git", args, { cwd: clone, env: cleanEnv() })).stdout;
  await exec("git", ["clone", "--quiet", repo.origin, clone], { env: cleanEnv() });
  await git("checkout", "--quiet", "-b", branch);
  await edit(clone);
  await git("add", "-A");
  await git("-c", "user.name=Other", "-c", "user.email=other@example.com", "commit", "--quiet", "-m", `deploy(dev): ghcr.io/ringlet/ringlet v1.0.0 → v9.9.9`);
  await git("push", "--quiet", "origin", branch);
  return (await git("rev-parse", "HEAD")).trim();
}

// ------------------------------------------------------------------ 1. someone else's deploy branch

describe.concurrent("1. a deploy branch pushed by someone else", () => {
  it("is refused when it changes anything but the expected overlay edit; nothing is pushed", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const gh = await newFake();
    // Same guessable name, the right tag edit, and a change to base/ riding along.
    const theirs = await pushFromElsewhere(repo, "deploy/dev/ringlet/v9.9.9", async (dir) => {
      const file = join(dir, DEV);
      await writeFile(file, (await readFile(file, "utf8")).replace("newTag: v1.0.0", "newTag: v9.9.9"));
      await writeFile(join(dir, "base/app/evil.yaml"), "# injected\n");
    });

    const result = await repo.cli(["bump-image", "v9.9.9"], tokenEnv(gh));

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("the remote branch deploy/dev/ringlet/v9.9.9 already exists and holds changes this move does not make (base/app/evil.yaml)");
    expect(result.stderr).toContain("nothing was pushed");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect((await originRefs(repo))["deploy/dev/ringlet/v9.9.9"]).toBe(theirs);
    expect(gh.pulls).toEqual([]);
    // Our own commit stays on the local branch.
    expect((await repo.git("log", "-1", "--format=%s", "deploy/dev/ringlet/v9.9.9")).trim()).toContain("v1.0.0 → v9.9.9");
    expect((await repo.git("rev-parse", "deploy/dev/ringlet/v9.9.9")).trim()).not.toBe(theirs);
    noToken(result);
  });

  it("is refused when the overlay holds another value than the planned one", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const gh = await newFake();
    const theirs = await pushFromElsewhere(repo, "deploy/dev/ringlet/v9.9.9", async (dir) => {
      const file = join(dir, DEV);
      await writeFile(file, (await readFile(file, "utf8")).replace("newTag: v1.0.0", "newTag: v6.6.6"));
    });

    const result = await repo.cli(["bump-image", "v9.9.9"], tokenEnv(gh));

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${DEV} holds another value than this move's`);
    expect((await originRefs(repo))["deploy/dev/ringlet/v9.9.9"]).toBe(theirs);
    expect(gh.pulls).toEqual([]);
  });

  it("is adopted when it holds exactly this move (another run pushed it first)", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const gh = await newFake();
    const theirs = await pushFromElsewhere(repo, "deploy/dev/ringlet/v9.9.9", async (dir) => {
      const file = join(dir, DEV);
      await writeFile(file, (await readFile(file, "utf8")).replace("newTag: v1.0.0", "newTag: v9.9.9"));
    });

    const result = await repo.cli(["bump-image", "v9.9.9"], tokenEnv(gh));

    expect(result.code, result.stderr).toBe(0);
    expect((await originRefs(repo))["deploy/dev/ringlet/v9.9.9"]).toBe(theirs);
    expect(gh.pulls.map((p) => [p.head, p.state])).toEqual([["deploy/dev/ringlet/v9.9.9", "open"]]);
    expect(gh.violations).toEqual([]);
  });
});

// ------------------------------------------------------------------ 2. concurrent runs

/** Temp copies of renders in `dir` (the kustomize version cache lives there too and stays). */
const renderCopies = async (dir: string) => (await readdir(dir)).filter((f) => /^ringlet-(plan|rev)-/.test(f));

function lockFile(repo: TestRepo): string {
  return join(repo.root, ".git", "gitops.lock");
}

describe.concurrent("2. concurrent runs", () => {
  it("a held lock is refused with its holder named, and changes nothing", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    // This test process is alive: its lock is held.
    await writeFile(lockFile(repo), JSON.stringify({ pid: process.pid, host: hostname(), command: "bump-image dev", started: "2026-01-01T00:00:00.000Z" }));
    const before = await repo.state();

    const result = await repo.cli(["bump-image", "v9.9.9"]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`another run is writing to this repository: pid ${process.pid} on ${hostname()}, \`bump-image dev\`, started 2026-01-01T00:00:00.000Z`);
    expect(await repo.state()).toEqual(before);
    expect(existsSync(lockFile(repo))).toBe(true);
  });

  it("a stale lock of a dead process on this host is taken over with a notice", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const dead = spawn(process.execPath, ["-e", ""]);
    await new Promise((resolve) => dead.on("exit", resolve));
    await writeFile(lockFile(repo), JSON.stringify({ pid: dead.pid, host: hostname(), command: "promote staging", started: "2026-01-01T00:00:00.000Z" }));

    const result = await repo.cli(["bump-image", "v9.9.9"], { GITOPS_QUIET: "" });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`notice: took over the lock of a run that is no longer running: pid ${dead.pid}`);
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/dev/ringlet/v9.9.9");
    expect(existsSync(lockFile(repo))).toBe(false);
  });

  it("two runs in one clone at once: one moves, the other is refused; no branch holds the other's edit", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const [a, b] = await Promise.all([repo.cli(["bump-image", "v9.9.9"]), repo.cli(["bump-image", "v9.9.10"])]);

    const codes = [a.code, b.code].sort();
    expect(codes).toEqual([0, 1]);
    const loser = a.code === 1 ? a : b;
    expect(loser.stderr).toMatch(/another run is (writing|starting to write) to this repository|you are on deploy\/dev\/v9\.9\.(9|10); deploy branches start from main/);
    for (const tag of ["v9.9.9", "v9.9.10"]) {
      const branch = `deploy/dev/ringlet/${tag}`;
      const exists = (await repo.git("branch", "--list", branch)).trim() !== "";
      if (!exists) continue;
      expect((await repo.git("rev-list", "--count", `main..${branch}`)).trim()).toBe("1");
      expect(await repo.git("show", `${branch}:${DEV}`)).toContain(`newTag: ${tag}\n`);
      expect((await repo.git("log", "-1", "--format=%s", branch)).trim()).toContain(`→ ${tag}`);
    }
    expect(await repo.git("status", "--porcelain")).toBe("");
  });

  it("superseding never closes a newer move: a late run of an older tag leaves it open", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const gh = await newFake();
    const newer = gh.addPull({ head: "deploy/dev/ringlet/v9.9.10", title: "deploy(dev): v1.0.0 → v9.9.10" });
    const older = gh.addPull({ head: "deploy/dev/ringlet/v9.9.1", title: "deploy(dev): v1.0.0 → v9.9.1" });

    const result = await repo.cli(["bump-image", "v9.9.9"], tokenEnv(gh, { GITOPS_QUIET: "" }));

    expect(result.code, result.stderr).toBe(0);
    expect(gh.pulls.find((p) => p.number === newer.number)?.state).toBe("open");
    expect(gh.pulls.find((p) => p.number === older.number)?.state).toBe("closed");
    expect(result.stderr).toContain(`notice: left #${newer.number} (deploy/dev/ringlet/v9.9.10) open: it is a newer move of ringlet in dev than this one`);
    // Re-checked right before closing.
    expect(gh.requests.filter((r) => r.operationId === "pulls/get").map((r) => r.path)).toContain(`/repos/${OWNER}/${REPO}/pulls/${older.number}`);
    expect(gh.violations).toEqual([]);
  });

  it("two clones bumping one environment at once: the newest move stays open", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const gh = await newFake();
    const second = join(await mkdtemp(join(tmpdir(), "ringlet-clone-")), "clone");
    dirs.push(join(second, ".."));
    await exec("git", ["clone", "--quiet", repo.origin, second], { env: cleanEnv() });
    await exec("git", ["-C", second, "config", "user.email", "t@example.com"], { env: cleanEnv() });
    const cli = (root: string, tag: string) =>
      exec(process.execPath, ["--import", TSX_LOADER, join(TOOLS_ROOT, "tools", "cli.ts"), "bump-image", "--root", root, tag], { cwd: root, env: cleanEnv(tokenEnv(gh)) }).then(
        () => 0,
        (e: { code?: number }) => e.code ?? 1,
      );

    const codes = await Promise.all([cli(repo.root, "v9.9.9"), cli(second, "v9.9.10")]);

    expect(codes).toEqual([0, 0]);
    // Whichever finished first, the newer move is never the one closed.
    expect(gh.pulls.find((p) => p.head === "deploy/dev/ringlet/v9.9.10")?.state).toBe("open");
    expect(gh.pulls.filter((p) => p.state === "open").length).toBeGreaterThanOrEqual(1);
  });
});

// ------------------------------------------------------------------ 3 and 6. GitHub that hangs or answers garbage

describe.concurrent("3. GitHub calls have a deadline", () => {
  const fast = { GITOPS_GITHUB_REQUEST_TIMEOUT_S: "3", GITOPS_GITHUB_TIMEOUT_S: "15", GITOPS_QUIET: "" };

  it("a server that never answers pulls.create: exit 1 in bounded time, progress on stderr, branch and commit kept, next step printed", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const gh = await newFake();
    gh.failNext(20, { status: 200, hang: true }, "pulls/create");

    const started = Date.now();
    const result = await repo.cli(["bump-image", "v9.9.9"], tokenEnv(gh, fast));
    const seconds = (Date.now() - started) / 1000;

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("GitHub did not answer POST /repos/ringlet/ringlet-gitops/pulls within 3 s (GITOPS_GITHUB_REQUEST_TIMEOUT_S); retrying");
    expect(result.stderr).toMatch(/error: GitHub did not (answer|finish)/);
    expect(result.stderr).toContain("is on branch deploy/dev/ringlet/v9.9.9 and pushed to origin; nothing is lost. Next step: run this command again");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    // The deadline bounds the run (15 s per GitHub step; the rest is start-up and renders on a busy machine).
    expect(seconds).toBeLessThan(150);
    const head = (await repo.git("rev-parse", "deploy/dev/ringlet/v9.9.9")).trim();
    expect((await originRefs(repo))["deploy/dev/ringlet/v9.9.9"]).toBe(head);
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/dev/ringlet/v9.9.9");
    noToken(result);
  });

  it("a server that never answers the first request: exit 1, nothing committed", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const gh = await newFake();
    gh.failNext(20, { status: 200, hang: true }, "repos/get");
    const before = await repo.state();

    const result = await repo.cli(["bump-image", "v9.9.9"], tokenEnv(gh, fast));

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("nothing was committed or pushed");
    expect(await repo.state()).toEqual(before);
  });
});

describe.concurrent("6. a malformed GitHub reply is an error before anything is committed", () => {
  for (const [name, reply] of [
    ["garbled JSON", { status: 200, raw: '{"default_branch": "ma' }],
    ["no default_branch", { status: 200, body: { id: 1, name: REPO } }],
  ] as const) {
    it(name, { timeout: SLOW }, async () => {
      const repo = await newRepo();
      const gh = await newFake();
      gh.failNext(1, reply, "repos/get");
      const before = await repo.state();

      const result = await repo.cli(["bump-image", "v9.9.9"], tokenEnv(gh));

      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: GitHub's answer to GET \/repos\/ringlet\/ringlet-gitops is not what GitHub documents/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(await repo.state()).toEqual(before);
      expect(gh.pulls).toEqual([]);
    });
  }
});

// ------------------------------------------------------------------ 4. interrupted runs

interface Paused {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts the CLI and resolves once it reports `paused at <point>` (GITOPS_TEST_PAUSE). */
async function startPaused(repo: TestRepo, args: string[], point: string, env: NodeJS.ProcessEnv = {}): Promise<Paused> {
  const child = spawn(process.execPath, ["--import", TSX_LOADER, join(TOOLS_ROOT, "tools", "cli.ts"), args[0]!, "--root", repo.root, ...args.slice(1)], {
    cwd: repo.root,
    env: cleanEnv({ GITOPS_TEST_PAUSE: point, ...env }),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stderr })));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (stderr.includes(`paused at ${point}`)) resolve();
    });
    child.on("exit", () => reject(new Error(`exited before pausing at ${point}: ${stderr}`)));
  });
  return { child, exited };
}

describe.concurrent("4. interrupted runs", () => {
  for (const point of ["branched", "written", "staged"]) {
    it(`SIGKILL after "${point}": the re-run undoes the half-done state and completes the move`, { timeout: SLOW }, async () => {
      const repo = await newRepo();
      const paused = await startPaused(repo, ["bump-image", "v9.9.9"], point);
      paused.child.kill("SIGKILL");
      await paused.exited;
      // What the issue saw: HEAD on the new, empty deploy branch.
      expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/dev/ringlet/v9.9.9");
      expect((await repo.git("rev-parse", "HEAD")).trim()).toBe((await repo.git("rev-parse", "main")).trim());

      const again = await repo.cli(["bump-image", "v9.9.9"], { GITOPS_QUIET: "" });

      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain("notice: took over the lock of a run that is no longer running");
      expect(again.stderr).toContain("notice: undid an interrupted run: back on main, deploy/dev/ringlet/v9.9.9 removed");
      expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/dev/ringlet/v9.9.9");
      expect((await repo.git("rev-list", "--count", "main..HEAD")).trim()).toBe("1");
      expect((await repo.git("diff", "--name-only", "main", "HEAD")).trim()).toBe(DEV);
      expect(await repo.git("status", "--porcelain")).toBe("");
      expect(existsSync(lockFile(repo))).toBe(false);
    });
  }

  it("SIGKILL between the atomic write and its rename: the stale *.tmp is removed and the re-run completes", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const paused = await startPaused(repo, ["bump-image", "v9.9.9"], "atomic-write");
    paused.child.kill("SIGKILL");
    await paused.exited;
    const temps = (await readdir(join(repo.root, "overlays/dev"))).filter((f) => f.endsWith(".tmp"));
    expect(temps).toEqual([expect.stringMatching(new RegExp(`^kustomization\\.yaml\\.${paused.child.pid}\\.[0-9a-f]{8}\\.tmp$`))]);

    const again = await repo.cli(["bump-image", "v9.9.9"]);

    expect(again.code, again.stderr).toBe(0);
    expect((await readdir(join(repo.root, "overlays/dev"))).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(await repo.git("status", "--porcelain")).toBe("");
    expect((await repo.git("rev-list", "--count", "main..HEAD")).trim()).toBe("1");
  });

  it("SIGINT while rendering: the temp copy is removed, the lock released, the repository untouched", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const tmp = await mkdtemp(join(tmpdir(), "ringlet-tmpdir-"));
    dirs.push(tmp);
    const before = await repo.state();
    const paused = await startPaused(repo, ["bump-image", "v9.9.9"], "rendering", { TMPDIR: tmp });
    expect((await readdir(tmp)).filter((f) => f.startsWith(`gitops-plan-${paused.child.pid}-`))).toHaveLength(1);

    paused.child.kill("SIGINT");
    const exit = await paused.exited;

    expect(exit.code).toBe(130);
    expect(await renderCopies(tmp)).toEqual([]);
    expect(existsSync(lockFile(repo))).toBe(false);
    expect(await repo.state()).toEqual(before);
  });

  it("SIGKILL while rendering leaves a temp copy; the next run removes it", { timeout: SLOW }, async () => {
    const repo = await newRepo();
    const tmp = await mkdtemp(join(tmpdir(), "ringlet-tmpdir-"));
    dirs.push(tmp);
    const paused = await startPaused(repo, ["bump-image", "v9.9.9"], "rendering", { TMPDIR: tmp });
    paused.child.kill("SIGKILL");
    await paused.exited;
    expect((await readdir(tmp)).filter((f) => f.startsWith(`gitops-plan-${paused.child.pid}-`))).toHaveLength(1);

    const again = await repo.cli(["bump-image", "v9.9.9", "--dry-run"], { TMPDIR: tmp });

    expect(again.code, again.stderr).toBe(0);
    expect(await renderCopies(tmp)).toEqual([]);
  });
});

// ------------------------------------------------------------------ 5. the token goes only where it belongs

/** A local https server standing in for a git host: records each request's Authorization header and refuses. */
async function startGitHost(dir: string): Promise<{ url: string; auth: string[]; close: () => Promise<void> }> {
  await exec("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]);
  const auth: string[] = [];
  const server = createHttpsServer({ key: await readFile(join(dir, "key.pem")), cert: await readFile(join(dir, "cert.pem")) }, (req, res) => {
    auth.push(req.headers.authorization ?? "");
    res.writeHead(403, { "content-type": "text/plain" });
    res.end("denied\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    auth,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe("5. the token goes only where it belongs", () => {
  it("an https origin on another host than the API's gets no token; the API's own host does, and tracing never prints it", { timeout: SLOW }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "ringlet-githost-"));
    dirs.push(dir);
    const host = await startGitHost(dir);
    try {
      const port = new URL(host.url).port;
      const gh = await newFake(); // at http://127.0.0.1:<other port>: its git host is 127.0.0.1
      const trace = { GIT_SSL_NO_VERIFY: "1", GIT_CURL_VERBOSE: "1", GIT_TRACE: "1", GIT_TRACE_CURL: "1", GIT_TRACE_REDACT: "0", GITOPS_QUIET: "" };

      // localhost is not the API's host (127.0.0.1): the token must not be sent there.
      const elsewhere = await newRepo();
      await elsewhere.git("remote", "set-url", "origin", `https://localhost:${port}/${OWNER}/${REPO}.git`);
      const refused = await elsewhere.cli(["bump-image", "v9.9.9"], tokenEnv(gh, trace));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("notice: pushing without the GitHub token: the origin's host localhost is not 127.0.0.1");
      expect(host.auth.length).toBeGreaterThan(0);
      expect(host.auth.filter((a) => a !== "")).toEqual([]);
      noToken(refused);

      // The API's host: the token goes (so the check above is not vacuous), and no trace shows it.
      host.auth.length = 0;
      const home = await newRepo();
      await home.git("remote", "set-url", "origin", `https://127.0.0.1:${port}/${OWNER}/${REPO}.git`);
      const sent = await home.cli(["bump-image", "v9.9.9"], tokenEnv(gh, trace));
      expect(sent.code).toBe(1);
      expect(host.auth).toContain(`basic ${B64_HEADER}`);
      expect(sent.stderr).toContain("git push failed");
      noToken(sent);
    } finally {
      await host.close();
    }
  });

  it("redact removes the raw, URL-encoded and base64 forms of a token", () => {
    const token = "ghp_a/b+c=d";
    const text = [token, encodeURIComponent(token), Buffer.from(token).toString("base64"), `Authorization: basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`].join(" | ");
    const out = redact(text, [token]);
    expect(out).toBe("*** | *** | *** | Authorization: basic ***");
  });
});
