// bump-image and promote end to end: the CLI runs as a subprocess against a temp copy of this
// repository (real git, a bare origin), renders with the real kustomize, and talks to the fake
// GitHub API that checks every request against GitHub's OpenAPI description. Nothing is mocked.
//
// Expected values (file lines, image references, messages) are written out by hand here, from
// what the contract says, never copied from the tools' output.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { startFakeGitHub, type FakeGitHub } from "./support/fake-github.ts";
import { cleanEnv, remoteBranches, testRepos, type TestRepo } from "./support/repo.ts";

const exec = promisify(execFile);

const IMAGE = "ghcr.io/ringlet/ringlet";
const DEV = "overlays/dev/kustomization.yaml";
const STAGING = "overlays/staging/kustomization.yaml";
const PROD = "overlays/prod/kustomization.yaml";
// The line every overlay carries in its images: entry before any move (spec: initialTag v1.0.0).
const TAG_LINE_V1 = "    newTag: v1.0.0\n";
const HEX = "0123456789abcdef".repeat(4); // 64 lower-case hex characters
const OWNER = "ringlet";
const REPO = "ringlet-gitops";
const TOKEN = "ghs_SECRETTOKEN123";

// ------------------------------------------------------------------ helpers

type Result = { code: number; stdout: string; stderr: string };




type Obj = Record<string, any>;

/** `kubectl kustomize <overlay>` of the temp repository, parsed. */
async function render(repo: TestRepo, overlay: string): Promise<{ text: string; objects: Obj[] }> {
  const { stdout } = await exec(join(TOOLS_ROOT, ".tools", "kubectl"), ["kustomize", join(repo.root, overlay)], { cwd: repo.root, maxBuffer: 64 * 1024 * 1024 });
  const objects = parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
  return { text: stdout, objects };
}

function find(objects: Obj[], kind: string, name: string): Obj {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`${kind}/${name} is not in the rendered output`);
  return found;
}

const podContainers = (o: Obj): Obj[] => [...(o.spec?.template?.spec?.initContainers ?? []), ...(o.spec?.template?.spec?.containers ?? [])];

/** Asserts that dev renders `image` in every Deployment container and in the migration hook Job. */
async function expectDevRuns(repo: TestRepo, image: string): Promise<void> {
  const { objects } = await render(repo, "overlays/dev");
  const deployments = objects.filter((o) => o.kind === "Deployment");
  expect(deployments.map((d) => d.metadata.name).sort()).toEqual(["ringlet-beat", "ringlet-web", "ringlet-worker"]);
  for (const d of deployments) {
    const containers = podContainers(d);
    expect(containers.length).toBeGreaterThan(0);
    for (const c of containers) expect({ deployment: d.metadata.name, container: c.name, image: c.image }).toEqual({ deployment: d.metadata.name, container: c.name, image });
  }
  const job = find(objects, "Job", "ringlet-migrate");
  expect(job.metadata.annotations?.["argocd.argoproj.io/hook"]).toBe("PreSync");
  const ours = podContainers(job).filter((c) => String(c.image).startsWith(IMAGE));
  expect(ours.map((c) => c.name)).toContain("migrate");
  for (const c of ours) expect(c.image).toBe(image);
}

/** The files under `prefix` in a snapshot. */
function under(snap: Record<string, string>, prefix: string): Record<string, string> {
  return Object.fromEntries(Object.entries(snap).filter(([k]) => k.startsWith(prefix)));
}

/** `text` with `line` (which must occur exactly once) replaced by `replacement`. */
function replaceOnce(text: string, line: string, replacement: string): string {
  expect(text.split(line).length - 1).toBe(1);
  return text.replace(line, replacement);
}

const newRepo = testRepos();

// ------------------------------------------------------------------ without a token

describe("bump-image without a token", () => {
  it("moves dev by exactly one line, on a new deploy branch with one commit, and re-running is a no-op", async () => {
    const repo = await newRepo();
    const before = await repo.state();
    const originalDev = await repo.read(DEV);
    const mainSha = (await repo.git("rev-parse", "HEAD")).trim();

    const result = await repo.cli(["bump-image", "v9.9.9"]);

    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    // Exactly one line differs: the tag line, rewritten by hand here.
    const expected = replaceOnce(originalDev, TAG_LINE_V1, "    newTag: v9.9.9\n");
    expect(await repo.read(DEV)).toBe(expected);
    const oldLines = originalDev.split("\n");
    const newLines = (await repo.read(DEV)).split("\n");
    expect(newLines).toHaveLength(oldLines.length);
    expect(newLines.filter((l, i) => l !== oldLines[i])).toEqual(["    newTag: v9.9.9"]);

    // On the deploy branch, one commit ahead of main, touching only the dev overlay.
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/dev/ringlet/v9.9.9");
    expect((await repo.git("rev-parse", "main")).trim()).toBe(mainSha);
    expect((await repo.git("rev-list", "--count", "main..deploy/dev/ringlet/v9.9.9")).trim()).toBe("1");
    expect((await repo.git("diff", "--name-only", "main", "deploy/dev/ringlet/v9.9.9")).trim()).toBe(DEV);
    const message = await repo.git("log", "-1", "--format=%B");
    const subject = message.split("\n")[0] ?? "";
    expect(subject).toContain("dev");
    expect(subject).toContain("v1.0.0 → v9.9.9");
    expect(message).toContain(IMAGE);
    // The tree is clean and nothing was pushed without a token.
    expect(await repo.git("status", "--porcelain")).toBe("");
    expect(await repo.git("ls-remote", "origin")).not.toContain("deploy/");
    // It says what to do next.
    expect(result.stdout).toContain("git push -u origin deploy/dev/ringlet/v9.9.9");

    // Rendered: the new image everywhere in dev, including the PreSync migration Job.
    await expectDevRuns(repo, `${IMAGE}:v9.9.9`);
    expect((await render(repo, "overlays/dev")).text).not.toContain(`${IMAGE}:v1.0.0`);

    // staging and prod are untouched, byte for byte.
    const after = await repo.state();
    expect(under(after, "overlays/staging/")).toEqual(under(before, "overlays/staging/"));
    expect(under(after, "overlays/prod/")).toEqual(under(before, "overlays/prod/"));
    expect(Object.keys(under(before, "overlays/staging/")).length).toBeGreaterThan(0);
    expect(Object.keys(under(before, "overlays/prod/")).length).toBeGreaterThan(0);

    // The same command again: nothing to do, nothing written, exit 0.
    const again = await repo.cli(["bump-image", "v9.9.9"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing to do/);
    expect(await repo.state()).toEqual(after);
  });

  it("--dry-run prints the rendered diff and writes nothing", async () => {
    const repo = await newRepo();
    const before = await repo.state();

    const result = await repo.cli(["bump-image", "v9.9.9", "--dry-run"]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain("deploy/dev/ringlet/v9.9.9");
    expect(result.stdout).toContain(`-        image: ${IMAGE}:v1.0.0`);
    expect(result.stdout).toContain(`+        image: ${IMAGE}:v9.9.9`);
    for (const resource of ["Deployment/ringlet-web", "Deployment/ringlet-worker", "Deployment/ringlet-beat", "Job/ringlet-migrate"]) {
      expect(result.stdout).toContain(resource);
    }
    // Only dev is rendered and only image lines change.
    expect(result.stdout).not.toContain("== staging ==");
    const changed = result.stdout.split("\n").filter((l) => /^[+-]\s/.test(l));
    expect(changed).toHaveLength(10); // 5 image lines out, 5 in (web has two containers)
    for (const line of changed) expect(line).toMatch(/^[+-]\s+image: ghcr\.io\/ringlet\/ringlet:v(1\.0\.0|9\.9\.9)$/);
    expect(await repo.state()).toEqual(before);
  });

  it("--json reports the move field by field", async () => {
    const repo = await newRepo();

    const result = await repo.cli(["bump-image", "v9.9.9", "--json"]);

    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as Record<string, unknown>;
    const head = (await repo.git("rev-parse", "HEAD")).trim();
    expect(out.dryRun).toBe(false);
    expect(out.environment).toBe("dev");
    expect(out.file).toBe(DEV);
    expect(out.branch).toBe("deploy/dev/ringlet/v9.9.9");
    expect(out.changed).toBe(true);
    expect(out.committed).toBe(true);
    expect(out.pushed).toBe(false);
    expect(out.commit).toBe(head);
    expect(out.images).toEqual([{ image: IMAGE, before: { newTag: "v1.0.0" }, after: { newTag: "v9.9.9" } }]);
    expect(out.pullRequest).toBeUndefined();
    expect(out.nextStep).toEqual(expect.stringContaining("git push -u origin deploy/dev/ringlet/v9.9.9"));
  });

  it("--dry-run --json lists the resources that would change and writes nothing", async () => {
    const repo = await newRepo();
    const before = await repo.state();

    const result = await repo.cli(["bump-image", "v9.9.9", "--dry-run", "--json"]);

    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as { dryRun: boolean; changed: boolean; branch: string; resources: Array<Record<string, unknown>> };
    expect(out.dryRun).toBe(true);
    expect(out.changed).toBe(true);
    expect(out.branch).toBe("deploy/dev/ringlet/v9.9.9");
    const rows = out.resources.map((r) => ({ env: r.env, layer: r.layer, key: r.key, status: r.status })).sort((a, b) => String(a.key).localeCompare(String(b.key)));
    expect(rows).toEqual([
      { env: "dev", layer: "app", key: "Deployment/ringlet-beat", status: "changed" },
      { env: "dev", layer: "app", key: "Deployment/ringlet-web", status: "changed" },
      { env: "dev", layer: "app", key: "Deployment/ringlet-worker", status: "changed" },
      { env: "dev", layer: "app", key: "Job/ringlet-migrate", status: "changed" },
    ]);
    // web has two containers with the image (the app and its collectstatic init container).
    const web = out.resources.find((r) => r.key === "Deployment/ringlet-web");
    expect({ added: web?.added, removed: web?.removed }).toEqual({ added: 2, removed: 2 });
    expect(await repo.state()).toEqual(before);
  });
});

describe("digests", () => {
  it("tag@digest sets newTag and inserts digest after it", async () => {
    const repo = await newRepo();
    const original = await repo.read(DEV);

    const result = await repo.cli(["bump-image", `v2.0.0@sha256:${HEX}`]);

    expect(result.code).toBe(0);
    expect(await repo.read(DEV)).toBe(replaceOnce(original, TAG_LINE_V1, `    newTag: v2.0.0\n    digest: sha256:${HEX}\n`));
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/dev/ringlet/v2.0.0");
    // kustomize pins the digest; the tag stays readable next to it.
    const { objects } = await render(repo, "overlays/dev");
    const web = podContainers(find(objects, "Deployment", "ringlet-web")).find((c) => c.name === "web");
    expect(web?.image).toBe(`${IMAGE}:v2.0.0@sha256:${HEX}`);
  });

  it("--digest alone replaces the tag with the digest", async () => {
    const repo = await newRepo();
    const original = await repo.read(DEV);

    const result = await repo.cli(["bump-image", "--digest", `sha256:${HEX}`]);

    expect(result.code).toBe(0);
    expect(await repo.read(DEV)).toBe(replaceOnce(original, TAG_LINE_V1, `    digest: sha256:${HEX}\n`));
    // Branch named after the first 12 hex characters of the digest.
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/dev/ringlet/sha256-0123456789ab");
    await expectDevRuns(repo, `${IMAGE}@sha256:${HEX}`);
  });
});

describe("semver downgrades", () => {
  it("are refused without --allow-downgrade and leave the tree as it was", async () => {
    const repo = await newRepo();
    const before = await repo.state();

    const result = await repo.cli(["bump-image", "v0.9.0"]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("v1.0.0");
    expect(result.stderr).toContain("v0.9.0");
    expect(result.stderr).toContain("--allow-downgrade");
    expect(await repo.state()).toEqual(before);
  });

  it("go through with --allow-downgrade", async () => {
    const repo = await newRepo();
    const original = await repo.read(DEV);

    const result = await repo.cli(["bump-image", "v0.9.0", "--allow-downgrade"]);

    expect(result.code).toBe(0);
    expect(await repo.read(DEV)).toBe(replaceOnce(original, TAG_LINE_V1, "    newTag: v0.9.0\n"));
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/dev/ringlet/v0.9.0");
    expect(await repo.git("log", "-1", "--format=%s")).toContain("v1.0.0 → v0.9.0");
  });
});

describe("promote", () => {
  it("carries dev's tag to staging after the dev move is merged; refuses to skip or go backwards", { timeout: 180_000 }, async () => {
    const repo = await newRepo();
    const originalStaging = await repo.read(STAGING);
    const originalProd = await repo.read(PROD);

    expect((await repo.cli(["bump-image", "v9.9.9"])).code).toBe(0);
    // "Merge" the deploy PR: fast-forward main to the deploy branch.
    await repo.git("checkout", "--quiet", "main");
    await repo.git("merge", "--quiet", "--ff-only", "deploy/dev/ringlet/v9.9.9");

    const staging = await repo.cli(["promote", "staging"]);
    expect(staging.stderr).toBe("");
    expect(staging.code).toBe(0);
    expect(await repo.read(STAGING)).toBe(replaceOnce(originalStaging, TAG_LINE_V1, "    newTag: v9.9.9\n"));
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/staging/ringlet/v9.9.9");
    expect((await repo.git("diff", "--name-only", "main", "HEAD")).trim()).toBe(STAGING);
    const subject = await repo.git("log", "-1", "--format=%s");
    expect(subject).toContain("staging");
    expect(subject).toContain("v1.0.0 → v9.9.9");
    expect(subject).toContain("dev");
    // prod did not move.
    expect(await repo.read(PROD)).toBe(originalProd);

    // dev → prod skips staging: refused without --force, and nothing changes.
    await repo.git("checkout", "--quiet", "main");
    const before = await repo.state();
    const skip = await repo.cli(["promote", "dev", "prod"]);
    expect(skip.code).toBe(1);
    expect(skip.stderr).toContain("skips staging");
    expect(skip.stderr).toContain("--force");
    expect(await repo.state()).toEqual(before);

    // prod → staging goes backwards: refused, even with --force.
    for (const args of [["promote", "prod", "staging"], ["promote", "prod", "staging", "--force"]]) {
      const backwards = await repo.cli(args);
      expect(backwards.code).toBe(1);
      expect(backwards.stderr).toMatch(/prod.*staging|staging.*prod/);
      expect(backwards.stderr).toContain("forward");
      expect(await repo.state()).toEqual(before);
    }

    // With --force, dev's tag goes straight to prod.
    // prod's gates (soak in staging, checks, freeze windows) refuse a tag staging never ran;
    // overridden here, with reasons (test/gates.test.ts tests the gates themselves).
    const gates = ["--override", "soak=skipping staging on purpose", "--override", "checks=no GitHub here", "--override", "window=test"];
    const refused = await repo.cli(["promote", "dev", "prod", "--force"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("v9.9.9 never ran in staging");
    expect(await repo.state()).toEqual(before);
    const forced = await repo.cli(["promote", "dev", "prod", "--force", ...gates]);
    expect(forced.code).toBe(0);
    expect(await repo.read(PROD)).toBe(replaceOnce(originalProd, TAG_LINE_V1, "    newTag: v9.9.9\n"));
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/prod/ringlet/v9.9.9");
    expect((await repo.git("diff", "--name-only", "main", "HEAD")).trim()).toBe(PROD);
  });
});

describe("deploy branches", () => {
  it("refuses a move started while another environment's deploy branch is checked out, and changes nothing", async () => {
    const repo = await newRepo();
    expect((await repo.cli(["bump-image", "v3.0.0", "--env", "staging", "--force"])).code).toBe(0);
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/staging/ringlet/v3.0.0");
    const before = await repo.state();

    const result = await repo.cli(["bump-image", "v9.9.9"]);

    // Otherwise merging the dev pull request would also deploy staging's unmerged change.
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("you are on deploy/staging/ringlet/v3.0.0; deploy branches start from main");
    expect(await repo.state()).toEqual(before);
  });

  it("puts the repository back when the commit itself fails (here: a signing program that fails)", async () => {
    const repo = await newRepo();
    await repo.git("config", "commit.gpgsign", "true");
    await repo.git("config", "gpg.program", "false");
    const before = await repo.state();

    const result = await repo.cli(["bump-image", "v9.9.9"]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("git commit failed");
    expect(await repo.state()).toEqual(before);
  });

  it("re-running from main never discards commits already on the local deploy branch", async () => {
    const repo = await newRepo();
    expect((await repo.cli(["bump-image", "v9.9.9"])).code).toBe(0);
    await repo.write("HUMAN.md", "a fix-up someone committed on the deploy branch\n");
    await repo.git("add", "HUMAN.md");
    await repo.git("commit", "--quiet", "-m", "human fix-up");
    const fixup = (await repo.git("rev-parse", "HEAD")).trim();
    await repo.git("checkout", "--quiet", "main");

    const result = await repo.cli(["bump-image", "v9.9.9"]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("branch deploy/dev/ringlet/v9.9.9 already exists with commits that are not on main");
    // The fix-up stays on deploy/dev/ringlet/v9.9.9.
    const contained = await exec("git", ["merge-base", "--is-ancestor", fixup, "deploy/dev/ringlet/v9.9.9"], { cwd: repo.root, env: cleanEnv() }).then(
      () => true,
      () => false,
    );
    expect(contained).toBe(true);
  });
});

describe("--pr without a token", () => {
  it("fails with a clear message and writes nothing", async () => {
    const repo = await newRepo();
    const before = await repo.state();

    const result = await repo.cli(["bump-image", "v9.9.9", "--pr"]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--pr");
    expect(result.stderr).toContain("GITHUB_TOKEN");
    expect(result.stdout).toBe("");
    expect(await repo.state()).toEqual(before);
  });
});

// ------------------------------------------------------------------ with a token, against the fake GitHub

const fakes: FakeGitHub[] = [];
async function newFake(): Promise<FakeGitHub> {
  const gh = await startFakeGitHub({ owner: OWNER, repo: REPO, token: TOKEN });
  fakes.push(gh);
  return gh;
}
afterAll(async () => {
  await Promise.all(fakes.splice(0).map((gh) => gh.close()));
});

/** Every output of every run with a token, checked for the token at the end. */
const tokenRuns: Result[] = [];
async function cliWithToken(repo: TestRepo, gh: FakeGitHub, args: string[], token = TOKEN): Promise<Result> {
  // Retry and write-spacing waits shrunk to milliseconds (see tools/github/client.ts).
  const result = await repo.cli(args, { GITHUB_TOKEN: token, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: `${OWNER}/${REPO}`, GITOPS_GITHUB_RETRY_UNIT_MS: "1" });
  tokenRuns.push(result);
  expect(result.stdout).not.toContain(token);
  expect(result.stderr).not.toContain(token);
  return result;
}

const ops = (gh: FakeGitHub) => gh.requests.map((r) => r.operationId ?? `${r.method} ${r.path}`);


describe("bump-image with a token: opening the pull request", () => {
  let repo: TestRepo;
  let gh: FakeGitHub;
  let first: Result;

  beforeAll(async () => {
    repo = await newRepo();
    gh = await newFake();
    first = await cliWithToken(repo, gh, ["bump-image", "v9.9.9"]);
  });

  it("pushes the branch and opens one labelled pull request, with requests GitHub documents", async () => {
    expect(first.code).toBe(0);
    // Last, the tool's own `gates` commit status on the pushed commit (dev declares no gates).
    expect(ops(gh)).toEqual(["repos/get", "pulls/list", "pulls/create", "issues/add-labels", "pulls/list", "repos/create-commit-status"]);
    expect(gh.statuses.map((x) => [x.context, x.state, x.description])).toEqual([["gates", "success", "bump into dev: no gates declared"]]);
    expect(gh.violations).toEqual([]);
    expect(gh.requests[1]?.query).toMatchObject({ state: "open", head: `${OWNER}:deploy/dev/ringlet/v9.9.9` });
    expect(gh.requests[2]?.body).toMatchObject({ head: "deploy/dev/ringlet/v9.9.9", base: "main" });
    expect(gh.requests[3]?.body).toEqual({ labels: ["deploy", "env:dev", "image:ringlet"] });
    expect(gh.pulls).toHaveLength(1);
    expect(gh.pulls[0]).toMatchObject({ number: 1, state: "open", head: "deploy/dev/ringlet/v9.9.9", base: "main", labels: ["deploy", "env:dev", "image:ringlet"] });
    expect(gh.pulls[0]?.title).toContain("v1.0.0 → v9.9.9");
    expect(first.stdout).toContain(`https://github.com/${OWNER}/${REPO}/pull/1`);
    // The request carried the token; the redaction in our output is not an absent token.
    expect(gh.requests[0]?.headers.authorization).toBe(`token ${TOKEN}`);
  });

  it("pushed deploy/dev/ringlet/v9.9.9 to origin at the local commit", async () => {
    const remote = await remoteBranches(repo);
    const local = (await repo.git("rev-parse", "HEAD")).trim();
    expect(remote["deploy/dev/ringlet/v9.9.9"]).toBe(local);
    expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/dev/ringlet/v9.9.9");
    // main on origin did not move.
    expect(remote.main).toBe((await repo.git("rev-parse", "main")).trim());
  });

  it("the body carries the markdown summary", () => {
    const body = gh.pulls[0]?.body ?? "";
    expect(body).toContain("## Deploy to dev");
    expect(body).toContain("| Image | From | To |");
    expect(body).toContain(`| \`${IMAGE}\` | \`v1.0.0\` | \`v9.9.9\` |`);
    expect(body).toContain("**dev**");
    expect(body).toContain("PreSync");
  });

  it("the body carries the rendered diff of dev", () => {
    const body = gh.pulls[0]?.body ?? "";
    expect(body).toContain("### Rendered manifest changes");
    expect(body).not.toContain("No rendered changes");
    expect(body).toContain("| dev | 0 | 4 | 0 |");
    expect(body).toContain("<code>Job/ringlet-migrate</code>");
    expect(body).toContain("```diff");
    expect(body).toContain(`-        image: ${IMAGE}:v1.0.0`);
    expect(body).toContain(`+        image: ${IMAGE}:v9.9.9`);
  });

  it("running again updates the same pull request instead of opening a second one", async () => {
    gh.requests.length = 0;
    const again = await cliWithToken(repo, gh, ["bump-image", "v9.9.9"]);

    expect(again.code).toBe(0);
    expect(gh.pulls).toHaveLength(1);
    expect(ops(gh)).not.toContain("pulls/create");
    expect(ops(gh)).toContain("pulls/update");
    expect(gh.requests.find((r) => r.operationId === "pulls/update")?.path).toBe(`/repos/${OWNER}/${REPO}/pulls/1`);
    expect(gh.violations).toEqual([]);
    expect(Object.keys(await remoteBranches(repo)).sort()).toEqual(["deploy/dev/ringlet/v9.9.9", "main"]);
  });

  it("after the re-run, the pull request still describes the move main → branch (v1.0.0 → v9.9.9)", () => {
    // The re-run plans against the already-bumped branch; what merging does has not changed.
    expect(gh.pulls[0]?.title).toContain("v1.0.0 → v9.9.9");
    expect(gh.pulls[0]?.body ?? "").toContain(`| \`${IMAGE}\` | \`v1.0.0\` | \`v9.9.9\` |`);
  });
});

// Independent repositories and fakes; most of the time is spent waiting out GitHub retry and
// write-spacing delays (1 s units, not adjustable from the CLI), so these run side by side.
describe.concurrent("bump-image with a token: superseding, retries, failures", () => {
  it("a newer bump of the same environment supersedes the older pull request", { timeout: 180_000 }, async () => {
    const repo = await newRepo();
    const gh = await newFake();
    // Another environment's open deploy PR must be left alone.
    const other = gh.addPull({ head: "deploy/staging/ringlet/v5.0.0", title: "deploy(staging)" });

    expect((await cliWithToken(repo, gh, ["bump-image", "v9.9.9"])).code).toBe(0);
    // As CI would: the next bump starts from a fresh checkout of main.
    await repo.git("checkout", "--quiet", "main");
    gh.requests.length = 0;
    const newer = await cliWithToken(repo, gh, ["bump-image", "v9.9.10"]);

    expect(newer.code).toBe(0);
    const older = gh.pulls.find((p) => p.head === "deploy/dev/ringlet/v9.9.9");
    const latest = gh.pulls.find((p) => p.head === "deploy/dev/ringlet/v9.9.10");
    expect(older?.state).toBe("closed");
    expect(latest?.state).toBe("open");
    expect(gh.pulls.find((p) => p.number === other.number)?.state).toBe("open");
    const comments = gh.comments.filter((c) => c.issueNumber === older?.number);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain(`#${latest?.number}`);
    expect(gh.comments.filter((c) => c.issueNumber === other.number)).toEqual([]);
    // Comment first, then close (then the `gates` status of the new branch).
    const tail = ops(gh).slice(-3);
    expect(tail).toEqual(["issues/create-comment", "pulls/update", "repos/create-commit-status"]);
    expect(gh.requests.at(-2)?.body).toEqual({ state: "closed" });
    expect(newer.stdout).toContain(`#${older?.number}`);
    expect(gh.violations).toEqual([]);
  });

  it("retries a 502 from pulls.create and opens exactly one pull request", async () => {
    const repo = await newRepo();
    const gh = await newFake();
    gh.failNext(1, { status: 502, body: { message: "Server Error" } }, "pulls/create");

    const result = await cliWithToken(repo, gh, ["bump-image", "v9.9.9"]);

    expect(result.code).toBe(0);
    expect(ops(gh).filter((o) => o === "pulls/create")).toHaveLength(2);
    expect(gh.pulls).toHaveLength(1);
    expect(gh.pulls[0]?.labels).toEqual(["deploy", "env:dev", "image:ringlet"]);
    expect(gh.violations).toEqual([]);
  });

  it("waits out a secondary rate limit on pulls.create, then opens the pull request", async () => {
    const repo = await newRepo();
    const gh = await newFake();
    gh.failNext(
      1,
      { status: 403, headers: { "retry-after": "1" }, body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." } },
      "pulls/create",
    );

    const result = await cliWithToken(repo, gh, ["bump-image", "v9.9.9"]);

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/secondary rate limit/i);
    expect(ops(gh).filter((o) => o === "pulls/create")).toHaveLength(2);
    expect(gh.pulls).toHaveLength(1);
    expect(gh.violations).toEqual([]);
  });

  it("401: one line that says the token is bad, non-zero exit, no token in the output", async () => {
    const repo = await newRepo();
    const gh = await newFake();
    const wrong = "ghs_WRONGTOKEN456";

    const result = await cliWithToken(repo, gh, ["bump-image", "v9.9.9"], wrong);

    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toContain("401");
    expect(lines[0]).toContain("GITHUB_TOKEN");
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(gh.pulls).toEqual([]);
  });

  it("push race: a remote branch with someone else's commit is refused, not adopted", async () => {
    const repo = await newRepo();
    const gh = await newFake();
    // Someone else pushes deploy/dev/ringlet/v9.9.9 first, with an unrelated commit.
    const elsewhere = await mkdtemp(join(tmpdir(), "ringlet-other-"));
    try {
      const git = (...args: string[]) => exec("git", args, { cwd: join(elsewhere, "clone"), env: cleanEnv() });
      await exec("git", ["clone", "--quiet", repo.origin, join(elsewhere, "clone")], { env: cleanEnv() });
      await git("checkout", "--quiet", "-b", "deploy/dev/ringlet/v9.9.9");
      await writeFile(join(elsewhere, "clone", "RELEASE-NOTES.md"), "notes from another run\n");
      await git("add", "RELEASE-NOTES.md");
      await git("-c", "user.name=Other", "-c", "user.email=other@example.com", "commit", "--quiet", "-m", "unrelated: release notes");
      await git("push", "--quiet", "origin", "deploy/dev/ringlet/v9.9.9");
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }

    const result = await cliWithToken(repo, gh, ["bump-image", "v9.9.9"]);

    // The remote branch holds a commit this move does not make: it is not adopted (issue 11.1;
    // test/release-safety.test.ts has the base/ variant and the adoption of an identical move).
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/rejected/);
    expect(result.stderr).toContain("holds changes this move does not make (RELEASE-NOTES.md)");
    const log = await exec("git", ["log", "--format=%s", "deploy/dev/ringlet/v9.9.9"], { cwd: repo.origin, env: cleanEnv() });
    expect(log.stdout.trim().split("\n")).toEqual(["unrelated: release notes", "initial"]);
    expect(gh.pulls).toHaveLength(0);
    expect(gh.violations).toEqual([]);
  });
});

afterEach(() => {
  for (const run of tokenRuns) {
    expect(run.stdout).not.toContain(TOKEN);
    expect(run.stderr).not.toContain(TOKEN);
    expect(run.stderr).not.toContain("WRONGTOKEN");
  }
});

describe("re-runs after the merge", () => {
  it("on a deploy branch already merged into main: nothing to do, no push, no pull request", async () => {
    const repo = await newRepo();
    const gh = await newFake();
    expect((await repo.cli(["bump-image", "v9.9.9"])).code).toBe(0);
    await repo.git("checkout", "--quiet", "main");
    await repo.git("merge", "--quiet", "--ff-only", "deploy/dev/ringlet/v9.9.9");
    await repo.git("checkout", "--quiet", "deploy/dev/ringlet/v9.9.9");

    const result = await cliWithToken(repo, gh, ["bump-image", "v9.9.9"]);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("dev already runs ghcr.io/ringlet/ringlet v9.9.9: nothing to do.");
    expect(gh.requests).toEqual([]);
    expect(Object.keys(await remoteBranches(repo))).toEqual(["main"]);
  });

  it("promote --from the last stage says so, in JSON too", async () => {
    const repo = await newRepo();
    const result = await repo.cli(["promote", "--from", "prod", "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ dryRun: false, from: "prod", environment: null, changed: false, reason: "last stage" });
  });
});
