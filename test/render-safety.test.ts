// What a render may touch (issue 11, items 7-9), with hostile kustomizations in temp repositories
// and the real kustomize: nothing remote, nothing outside the repository, bounded in time and
// memory, killed with the tool, and symlinks inside the repository kept as they are.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { lstat, mkdtemp, readlink, rm, symlink, writeFile, mkdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { renderSnapshotWith } from "../tools/diff/manifests.ts";
import { exportTree } from "../tools/git/git.ts";
import { kustomizeBinary, kustomizeEnvironment, runKustomize } from "../tools/render/kustomize.ts";
import { cleanEnv, testRepos, TSX_LOADER, type TestRepo } from "./support/repo.ts";
import type { Finding } from "../tools/rules/types.ts";

const newRepo = testRepos();

/** A finding as `check --json` prints it (the tools' own type). */
type JsonFinding = Finding;

const findingsOf = (stdout: string) => (JSON.parse(stdout) as { findings: JsonFinding[] }).findings;
const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;
const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);

/** Adds entries to the `resources:` list of a kustomization (after its first line). */
async function addResources(repo: TestRepo, file: string, entries: string[]): Promise<void> {
  const text = await repo.read(file);
  expect(text).toMatch(/^resources:\n/m);
  await repo.write(file, text.replace(/^resources:\n/m, `resources:\n${entries.map((e) => `  - ${e}\n`).join("")}`));
}

// A local HTTP server that serves valid manifests and counts every request: what a render of
// `http://127.0.0.1:PORT/...` (or git over http) would fetch.
let server: Server;
let requests: string[] = [];
let origin = "";
beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "application/yaml" });
    res.end("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\ndata:\n  from: network\n");
  });
  await new Promise<void>((go) => server.listen(0, "127.0.0.1", go));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((go) => server.close(go));
});

describe("nothing from outside the repository", () => {
  it("refuses remote resources and remote files in check, render, diff and bump, and no request leaves", async () => {
    const repo = await newRepo();
    requests = [];
    const file = "base/app/kustomization.yaml";
    const remote = [`${origin}/evil.yaml`, `git::${origin}/org/repo.git//deploy?ref=main`, "github.com/ringlet-attacker/manifests//dir?ref=v1"];
    await addResources(repo, file, remote);
    await repo.write(file, `${await repo.read(file)}patches:\n  - path: ${origin}/patch.yaml\n`);
    await repo.git("commit", "-q", "-am", "a pull request that fetches");
    const text = await repo.read(file);

    const check = await repo.cli(["check", "--json"]);
    expect(check.code).toBe(1);
    const refused = findingsOf(check.stdout).filter((f) => f.rule === "render/remote-resource");
    // Each once, at its own line, whichever of the overlays that include the base met it first.
    expect(refused.map((f) => [f.file, f.line]).sort()).toEqual(
      [...remote.map((r) => [file, lineOf(text, `- ${r}`)]), [file, lineOf(text, `path: ${origin}/patch.yaml`)]].sort(),
    );
    expect(refused.find((f) => f.line === lineOf(text, `- ${remote[0]}`))?.path).toMatch(/^resources\[\d+\]$/);
    expect(check.stdout).not.toContain("from: network");

    const text2 = await repo.cli(["check"]);
    expect(text2.stdout).toMatch(new RegExp(`${file}:${lineOf(text, `- ${remote[0]}`)}: render/remote-resource`));

    const render = await repo.cli(["render", "dev"]);
    expect(render.code).toBe(1);
    expect(render.stdout).toBe("");
    expect(render.stderr).toMatch(/refused to render overlays\/dev/);
    expect(render.stderr).toContain(`${file}:${lineOf(text, `- ${remote[0]}`)}`);
    noStackTrace(render.stderr);

    const diff = await repo.cli(["diff"]);
    expect(diff.code).toBe(1);
    expect(diff.stderr).toMatch(/refused to render/);
    noStackTrace(diff.stderr);

    const bump = await repo.cli(["bump-image", "v1.0.1", "--dry-run"]);
    expect(bump.code).toBe(1);
    expect(bump.stderr).toMatch(/refused to render/);

    expect(requests).toEqual([]);
  }, 240_000);

  it("refuses paths that resolve outside the repository: a symlinked directory, a symlinked file, `..`", async () => {
    const repo = await newRepo();
    const outside = await mkdtemp(join(tmpdir(), "ringlet-outside-"));
    try {
      await writeFile(join(outside, "kustomization.yaml"), "resources:\n  - secret.yaml\n");
      await writeFile(join(outside, "secret.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\ndata:\n  key: from-outside\n");
      await writeFile(join(outside, "patch.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\n");
      await symlink(outside, join(repo.root, "base", "app", "vendor"));
      await symlink(join(outside, "secret.yaml"), join(repo.root, "base", "app", "extra.yaml"));
      const file = "base/app/kustomization.yaml";
      const climb = relative(join(repo.root, "base", "app"), join(outside, "patch.yaml"));
      await addResources(repo, file, ["vendor", "extra.yaml"]);
      await repo.write(file, `${await repo.read(file)}patches:\n  - path: ${climb}\n`);
      const text = await repo.read(file);

      const check = await repo.cli(["check", "--json"]);
      expect(check.code).toBe(1);
      const refused = findingsOf(check.stdout).filter((f) => f.rule === "render/outside-repository");
      expect(refused.map((f) => f.line).sort()).toEqual([lineOf(text, "- vendor"), lineOf(text, "- extra.yaml"), lineOf(text, `path: ${climb}`)].sort());
      for (const f of refused) expect(f.file).toBe(file);
      expect(check.stdout).not.toContain("from-outside");

      const render = await repo.cli(["render", "dev"]);
      expect(render.code).toBe(1);
      expect(render.stderr).toMatch(/render\/outside-repository/);
      expect(render.stdout).not.toContain("from-outside");
      noStackTrace(render.stderr);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  }, 240_000);

  it("runs kustomize where it cannot reach the network and sees none of the caller's environment", async () => {
    // Defence in depth, below the source check (which would refuse these): kustomize itself, in
    // its environment, on a kustomization outside any repository.
    const dir = await mkdtemp(join(tmpdir(), "ringlet-sandbox-"));
    requests = [];
    try {
      const bin = await kustomizeBinary();
      // git over http to the counting server: git refuses the protocol (GIT_ALLOW_PROTOCOL=file).
      await writeFile(join(dir, "kustomization.yaml"), `resources:\n  - git::${origin}/org/repo.git//deploy?ref=main\n`);
      const git = await runKustomize(bin.path, ["kustomize", dir], "sandbox");
      expect(git.code).not.toBe(0);
      // Plain HTTP to a non-loopback host goes to the proxy on a closed loopback port.
      await writeFile(join(dir, "kustomization.yaml"), "resources:\n  - http://ringlet-attacker.example/evil.yaml\n");
      const http = await runKustomize(bin.path, ["kustomize", dir], "sandbox");
      expect(http.code).not.toBe(0);
      expect(http.stderr).toMatch(/127\.0\.0\.1:9|proxyconnect/);
      expect(requests).toEqual([]);

      process.env.GITHUB_TOKEN = "ghp_must_not_reach_kustomize";
      try {
        const env = kustomizeEnvironment();
        expect(Object.values(env)).not.toContain("ghp_must_not_reach_kustomize");
        expect(env).toMatchObject({ NO_PROXY: "", GIT_ALLOW_PROTOCOL: "file", GIT_TERMINAL_PROMPT: "0" });
        expect(env.HOME).not.toBe(process.env.HOME);
      } finally {
        delete process.env.GITHUB_TOKEN;
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

// A "billion laughs" document of under 1 KB: each level multiplies by nine.
function aliasBomb(levels = 12): string {
  const lines = ['  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < levels; i++) lines.push(`  a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(",")}]`);
  return lines.join("\n");
}

/** Pids of kubectl processes whose command line mentions `needle` (this machine's /proc). */
function kustomizeProcesses(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (cmdline.some((a) => /kubectl/.test(a)) && cmdline.some((a) => a.includes(needle))) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

describe("bounded renders", () => {
  let repo: TestRepo;
  beforeAll(async () => {
    repo = await newRepo();
    await repo.write("base/app/bomb.yaml", `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n${aliasBomb()}\n`);
    await addResources(repo, "base/app/kustomization.yaml", ["bomb.yaml"]);
  });

  it("reports an alias bomb as too large to render, per overlay, and leaves no kustomize running", async () => {
    const started = Date.now();
    const check = await repo.cli(["check", "--json"], { GITOPS_RENDER_MEMORY_MB: "150", GITOPS_RENDER_TIMEOUT_MS: "100000" });
    expect(check.code).toBe(1);
    noStackTrace(check.stdout + check.stderr);
    const limited = findingsOf(check.stdout).filter((f) => f.rule === "render/limit");
    expect(limited.map((f) => f.file).sort()).toEqual(["overlays/dev/kustomization.yaml", "overlays/prod/kustomization.yaml", "overlays/staging/kustomization.yaml"]);
    for (const f of limited) expect(f.message).toMatch(/^overlays\/[a-z]+ is too large to render: kustomize used more than 150 MB/);
    // The data overlays do not include the bomb: they still render and are checked.
    expect(findingsOf(check.stdout).filter((f) => f.rule === "render/kustomize")).toEqual([]);
    expect(Date.now() - started).toBeLessThan(100_000);
    expect(kustomizeProcesses(repo.root)).toEqual([]);

    const render = await repo.cli(["render", "dev"], { GITOPS_RENDER_MEMORY_MB: "150" });
    expect(render.code).toBe(1);
    expect(render.stderr).toMatch(/^error: overlays\/dev is too large to render/m);
    noStackTrace(render.stderr);
  }, 240_000);

  it("stops a render that takes too long", async () => {
    const render = await repo.cli(["render", "dev"], { GITOPS_RENDER_MEMORY_MB: "100000", GITOPS_RENDER_TIMEOUT_MS: "1500" });
    expect(render.code).toBe(1);
    expect(render.stderr).toMatch(/^error: overlays\/dev is too slow to render: kustomize was stopped after 1\.5 s/m);
    expect(kustomizeProcesses(repo.root)).toEqual([]);
    const bad = await repo.cli(["render", "dev"], { GITOPS_RENDER_TIMEOUT_MS: "soon" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/GITOPS_RENDER_TIMEOUT_MS must be a positive number/);
  }, 120_000);

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`kills kustomize when the tool is interrupted (${signal})`, async () => {
      const child = spawn(process.execPath, ["--import", TSX_LOADER, join(TOOLS_ROOT, "tools", "cli.ts"), "render", "dev", "--root", repo.root], {
        cwd: repo.root,
        env: cleanEnv({ GITOPS_RENDER_MEMORY_MB: "1500", GITOPS_RENDER_TIMEOUT_MS: "100000" }),
        stdio: "ignore",
      });
      const exited = new Promise<number | null>((go) => child.on("exit", (code, sig) => go(code ?? (sig ? 128 : null))));
      let pids: number[] = [];
      for (let i = 0; i < 600 && pids.length === 0; i++) {
        await new Promise((go) => setTimeout(go, 100));
        pids = kustomizeProcesses(repo.root);
      }
      expect(pids.length).toBe(1);
      child.kill(signal);
      await exited;
      for (let i = 0; i < 50 && pids.some((p) => existsSync(`/proc/${p}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${p}/status`, "utf8"))); i++) {
        await new Promise((go) => setTimeout(go, 100));
      }
      expect(kustomizeProcesses(repo.root)).toEqual([]);
    }, 120_000);
  }

  it("refuses a kustomization it cannot read (an alias bomb) without running kustomize", async () => {
    const other = await newRepo();
    const file = "overlays/dev/data/kustomization.yaml";
    await other.write(file, `${await other.read(file)}x-bomb:\n${aliasBomb()}\n`);
    const render = await other.cli(["render", "dev", "--data"], { GITOPS_RENDER_TIMEOUT_MS: "100000" });
    expect(render.code).toBe(1);
    expect(render.stderr).toMatch(/render\/unreadable-kustomization/);
    expect(render.stderr).toMatch(/aliases expand too far/);
    noStackTrace(render.stderr);
  }, 120_000);

  it("refuses an alias bomb in the spec with a one-line error, not a stack trace", async () => {
    const spec = await repo.read("overlays/environments.yaml");
    await repo.write("overlays/environments.yaml", `x-bomb:\n${aliasBomb()}\n${spec}`);
    try {
      // (The bomb in base/app is still there: its renders are bounded low so as not to wait for them.)
      const limits = { GITOPS_RENDER_MEMORY_MB: "150" };
      const check = await repo.cli(["check", "--json"], limits);
      expect(check.code).toBe(1);
      const [finding] = findingsOf(check.stdout).filter((f) => f.rule === "spec/invalid");
      expect(finding?.message).toMatch(/aliases expand too far/);
      const render = await repo.cli(["render", "dev"], limits);
      expect(render.code).toBe(1);
      expect(render.stderr).toMatch(/overlays\/environments\.yaml: line 3:\d+: YAML aliases expand too far/);
      noStackTrace(render.stderr);
      expect(render.stderr.split("\n").filter(Boolean).length).toBeLessThanOrEqual(2);
    } finally {
      await repo.write("overlays/environments.yaml", spec);
    }
  }, 120_000);
});

describe("symlinks inside the repository", () => {
  it("are kept as links by the temp copy and the git tree export, so check, diff and bump work through them", async () => {
    const repo = await newRepo();
    await repo.git("mv", "components/managed-postgres", "components/managed-postgres-impl");
    await symlink("managed-postgres-impl", join(repo.root, "components", "managed-postgres"));
    await repo.git("add", "-A");
    await repo.git("commit", "-q", "-m", "component behind a relative symlink");

    const check = await repo.cli(["check"]);
    expect(check.code, check.stdout + check.stderr).toBe(0);

    // diff renders HEAD from a tree export: the link must be a link there too.
    const diff = await repo.cli(["diff"]);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stderr).not.toContain("render failed");
    const exported = await mkdtemp(join(tmpdir(), "ringlet-export-"));
    try {
      await exportTree(repo.root, "HEAD", ["components"], exported);
      const link = join(exported, "components", "managed-postgres");
      expect((await lstat(link)).isSymbolicLink()).toBe(true);
      expect(await readlink(link)).toBe("managed-postgres-impl");
    } finally {
      await rm(exported, { recursive: true, force: true });
    }

    // bump and promote render a temp copy with their edit: a file reached through the link is
    // replaced in the copy, never through an absolute link in the checkout.
    const through = "components/managed-postgres/kustomization.yaml";
    const before = await repo.read(through);
    const prodData = existsSync(join(repo.root, "overlays", "prod", "data", "kustomization.yaml"));
    expect(prodData).toBe(true);
    const snapshot = await renderSnapshotWith(repo.root, new Map([[through, `${before}# edited in the copy\n`]]), ["prod"], ["data"]);
    expect(Array.isArray(snapshot.get("prod")?.data), JSON.stringify(snapshot.get("prod"))).toBe(true);
    expect(await repo.read(through)).toBe(before);
    expect(await readFile(join(repo.root, "components", "managed-postgres-impl", "kustomization.yaml"), "utf8")).toBe(before);
    expect(await repo.git("status", "--porcelain")).toBe("");

    const bump = await repo.cli(["bump-image", "v1.0.1", "--dry-run"]);
    expect(bump.code, bump.stderr).toBe(0);
  }, 240_000);

  it("refuses a link that leads out of a copy as it does in the checkout", async () => {
    const repo = await newRepo();
    await mkdir(join(repo.root, "base", "app", "more"), { recursive: true });
    await symlink("../../../../../../../../../../etc", join(repo.root, "base", "app", "more", "etc"));
    await addResources(repo, "base/app/kustomization.yaml", ["more/etc"]);
    const check = await repo.cli(["check", "--json"]);
    expect(check.code).toBe(1);
    expect(findingsOf(check.stdout).some((f) => f.rule === "render/outside-repository" && f.file === "base/app/kustomization.yaml")).toBe(true);
  }, 120_000);
});
