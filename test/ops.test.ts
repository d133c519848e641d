// status, plan and history end to end: real git histories built here (bump-image and promote
// through the CLI, merged back to main with real `git merge`), real kustomize renders, and the
// fake GitHub API that checks every request against GitHub's OpenAPI description.
//
// Expected values (tags, pull-request numbers, Argo CD's order of the rendered objects) are
// written out by hand from the contract; commit ids and dates come from git, never from the
// tools' output.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { pullRequestNumber } from "../tools/ops/history.ts";
import { semverDistance } from "../tools/ops/status.ts";
import { kindRank, orderSync, syncWave } from "../tools/ops/sync-plan.ts";
import type { RenderedObject } from "../tools/rules/types.ts";
import { startFakeGitHub, type FakeGitHub } from "./support/fake-github.ts";
import { testRepos, type TestRepo } from "./support/repo.ts";

const exec = promisify(execFile);

const IMAGE = "ghcr.io/ringlet/ringlet";
const OWNER = "ringlet";
const REPO = "ringlet-gitops";
const TOKEN = "ghs_OPSSECRETTOKEN456";

type Result = { code: number; stdout: string; stderr: string };
type Obj = Record<string, any>;



async function ok(repo: TestRepo, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const result = await repo.cli(args, env);
  if (result.code !== 0) throw new Error(`${args.join(" ")} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

async function sha(repo: TestRepo, rev = "HEAD"): Promise<string> {
  return (await repo.git("rev-parse", rev)).trim();
}

async function dateOf(repo: TestRepo, commit: string): Promise<string> {
  return (await repo.git("show", "-s", "--format=%cI", commit)).trim();
}

/** `kubectl kustomize <overlay>` of the temp repository, parsed. */
async function render(repo: TestRepo, overlay: string): Promise<Obj[]> {
  const { stdout } = await exec(join(TOOLS_ROOT, ".tools", "kubectl"), ["kustomize", join(repo.root, overlay)], { cwd: repo.root, maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

/** bump-image or promote through the CLI, then the pull request "merged" on main with a real merge commit. */
async function deployAndMerge(repo: TestRepo, args: string[], branch: string, pr: number): Promise<string> {
  await ok(repo, args);
  expect((await repo.git("branch", "--show-current")).trim()).toBe(branch);
  await repo.git("checkout", "--quiet", "main");
  await repo.git("merge", "--quiet", "--no-ff", "-m", `Merge pull request #${pr} from ${OWNER}/${branch}`, branch);
  return sha(repo);
}

/** The table row of `first` (the text in its first column) in a text report. */
function row(text: string, first: string): string {
  const line = text.split("\n").find((l) => l.startsWith(`${first} `));
  if (!line) throw new Error(`no row for ${first} in:\n${text}`);
  return line;
}

const newRepo = testRepos();

// ------------------------------------------------------------------ pure parts

describe("ordering and parsing rules", () => {
  it("reads pull-request numbers from merge and squash subjects only", () => {
    expect(pullRequestNumber("Merge pull request #12 from ringlet/deploy/dev/ringlet/v1.1.0")).toBe(12);
    expect(pullRequestNumber("deploy(dev): ringlet v1.1.0 → v1.2.0 (#123)")).toBe(123);
    expect(pullRequestNumber("Merge branch 'main' into deploy/dev/ringlet/v1.1.0")).toBeNull();
    expect(pullRequestNumber("fix #12 in the job")).toBeNull();
  });

  it("measures semver distance at the first differing component", () => {
    expect(semverDistance("v1.0.0", "v1.1.0")).toEqual({ direction: -1, level: "minor", count: 1 });
    expect(semverDistance("v1.4.0", "v3.0.0")).toEqual({ direction: -1, level: "major", count: 2 });
    expect(semverDistance("v1.1.3", "v1.1.0")).toEqual({ direction: 1, level: "patch", count: 3 });
    expect(semverDistance("v2.0.0-rc.1", "v2.0.0")).toEqual({ direction: -1, level: "prerelease", count: null });
    expect(semverDistance("v1.0.0", "1.0.0")).toEqual({ direction: 0, level: null, count: null });
    expect(semverDistance("build-42", "v1.0.0")).toBeUndefined();
  });

  it("orders like Argo CD: phase, then wave, then kind (unknown kinds last), then name", () => {
    const o = (kind: string, name: string, annotations: Record<string, string> = {}): RenderedObject => ({
      env: "dev",
      layer: "app",
      source: "overlays/dev",
      object: { apiVersion: kind === "Widget" ? "example.com/v1" : "v1", kind, metadata: { name, annotations } },
    });
    const { tasks, skipped } = orderSync([
      o("Deployment", "b"),
      o("Widget", "a"),
      o("Deployment", "a"),
      o("Service", "z"),
      o("ConfigMap", "late", { "argocd.argoproj.io/sync-wave": "1" }),
      o("ConfigMap", "early", { "argocd.argoproj.io/sync-wave": "-2" }),
      o("Job", "post", { "argocd.argoproj.io/hook": "PostSync" }),
      o("Job", "pre", { "argocd.argoproj.io/hook": "PreSync" }),
      o("Pod", "fail", { "argocd.argoproj.io/hook": "SyncFail" }),
      o("Namespace", "ns"),
      o("Job", "never", { "argocd.argoproj.io/hook": "Skip" }),
    ]);
    expect(tasks.map((t) => `${t.phase} ${t.wave} ${t.kind}/${t.name}`)).toEqual([
      "PreSync 0 Job/pre",
      "Sync -2 ConfigMap/early",
      "Sync 0 Namespace/ns",
      "Sync 0 Service/z",
      "Sync 0 Deployment/a",
      "Sync 0 Deployment/b",
      "Sync 0 Widget/a",
      "Sync 1 ConfigMap/late",
      "PostSync 0 Job/post",
      "SyncFail 0 Pod/fail",
    ]);
    expect(skipped).toEqual([{ kind: "Job", name: "never", reason: "Skip hook: never applied" }]);
    expect(kindRank("Namespace")).toBeLessThan(kindRank("APIService"));
    expect(kindRank("APIService")).toBeLessThan(kindRank("ExternalSecret"));
    expect(syncWave({ metadata: { annotations: { "argocd.argoproj.io/sync-wave": "five" } } })).toBe(0);
  });
});

// ------------------------------------------------------------------ a bump and a promotion

describe("after a bump of dev and a promotion to staging", () => {
  let repo: TestRepo;
  let initial: string;
  let merge12: string;
  let merge13: string;

  beforeAll(async () => {
    repo = await newRepo();
    initial = await sha(repo);
    merge12 = await deployAndMerge(repo, ["bump-image", "v1.1.0"], "deploy/dev/ringlet/v1.1.0", 12);
    merge13 = await deployAndMerge(repo, ["promote", "staging"], "deploy/staging/ringlet/v1.1.0", 13);
  });

  it("status shows the new tags, and prod one minor version behind staging", async () => {
    const result = await repo.cli(["status"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toContain(`on main (${merge13.slice(0, 7)})`);
    expect(out).toContain(`image ${IMAGE}`);
    // Promotion order, one row each.
    const envRows = out.split("\n").filter((l) => /^(dev|staging|prod) /.test(l));
    expect(envRows.map((l) => l.split(" ")[0])).toEqual(["dev", "staging", "prod"]);
    expect(row(out, "dev")).toMatch(new RegExp(`^dev +v1\\.1\\.0 +first stage +${merge12.slice(0, 7)} +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +#12$`));
    expect(row(out, "staging")).toMatch(new RegExp(`^staging +v1\\.1\\.0 +same as dev +${merge13.slice(0, 7)} +\\S+ \\S+ +#13$`));
    expect(row(out, "prod")).toMatch(new RegExp(`^prod +v1\\.0\\.0 +1 minor behind staging +${initial.slice(0, 7)} +\\S+ \\S+ +—$`));
    // Aligned columns: the tag column starts at the same offset on every row.
    expect(new Set(envRows.map((l) => l.indexOf("v1.")))).toHaveProperty("size", 1);
    // No colour when not on a terminal.
    expect(out).not.toContain("\u001b[");
    expect(out).toContain("set GITHUB_TOKEN");
  });

  it("status --json has the documented shape, field by field", async () => {
    const result = await repo.cli(["status", "--json"]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(Object.keys(json)).toEqual(["ref", "commit", "environments", "github", "holds"]);
    expect(json.ref).toBe("main");
    expect(json.commit).toBe(merge13);
    expect(json.github).toBeNull();
    expect(json.environments.map((e: Obj) => Object.keys(e))).toEqual([
      ["name", "file", "images", "pullRequests"],
      ["name", "file", "images", "pullRequests"],
      ["name", "file", "images", "pullRequests"],
    ]);
    const [dev, staging, prod] = json.environments as Obj[];
    expect(dev).toEqual({
      name: "dev",
      file: "overlays/dev/kustomization.yaml",
      images: [
        {
          image: IMAGE,
          tag: "v1.1.0",
          digest: null,
          previous: null,
          lastChange: { commit: merge12, date: await dateOf(repo, merge12), author: "Test Runner", subject: "Merge pull request #12 from ringlet/deploy/dev/ringlet/v1.1.0", pullRequest: 12 },
        },
      ],
      pullRequests: null,
    });
    expect(Object.keys(dev!.images[0])).toEqual(["image", "tag", "digest", "previous", "lastChange"]);
    expect(staging!.images[0]).toEqual({
      image: IMAGE,
      tag: "v1.1.0",
      digest: null,
      previous: { environment: "dev", state: "same", by: null, level: null, count: null, text: "same as dev" },
      lastChange: { commit: merge13, date: await dateOf(repo, merge13), author: "Test Runner", subject: "Merge pull request #13 from ringlet/deploy/staging/ringlet/v1.1.0", pullRequest: 13 },
    });
    expect(prod!.images[0]).toEqual({
      image: IMAGE,
      tag: "v1.0.0",
      digest: null,
      previous: { environment: "staging", state: "behind", by: "semver", level: "minor", count: 1, text: "1 minor behind staging" },
      lastChange: { commit: initial, date: await dateOf(repo, initial), author: "Test Runner", subject: "initial", pullRequest: null },
    });
    expect(Object.keys(prod!.images[0].previous)).toEqual(["environment", "state", "by", "level", "count", "text"]);
  });

  it("status reads main even while a deploy branch is checked out", async () => {
    await ok(repo, ["bump-image", "v1.2.0"]);
    try {
      expect((await repo.git("branch", "--show-current")).trim()).toBe("deploy/dev/ringlet/v1.2.0");
      const json = JSON.parse((await ok(repo, ["status", "--json"])).stdout);
      expect(json.ref).toBe("main");
      expect(json.environments[0].images[0].tag).toBe("v1.1.0");
      const onBranch = JSON.parse((await ok(repo, ["status", "--json", "--ref", "HEAD"])).stdout);
      expect(onBranch.environments[0].images[0].tag).toBe("v1.2.0");
      expect(onBranch.environments[1].images[0].previous.text).toBe("1 minor behind dev");
    } finally {
      await repo.git("checkout", "--quiet", "main");
      await repo.git("branch", "--quiet", "-D", "deploy/dev/ringlet/v1.2.0");
    }
  });

  it("plan prod: the data Application first, then the migration hook before every Deployment, PreSync before Sync", async () => {
    const result = await repo.cli(["plan", "prod"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    // Manual Applications share the root's last wave (argocd/manual-blocks-root); data first by layer.
    const dataHeader = at(/^1\/2 +ringlet-prod-data +overlays\/prod\/data +\(to server https:\/\/kubernetes\.default\.svc, Application sync wave 1, manual sync\)$/);
    const appHeader = at(/^2\/2 +ringlet-prod +overlays\/prod +\(to server https:\/\/kubernetes\.default\.svc, Application sync wave 1, manual sync\)$/);
    expect(dataHeader).toBeGreaterThanOrEqual(0);
    expect(appHeader).toBeGreaterThan(dataHeader);
    expect(lines.slice(dataHeader, appHeader).join("\n")).toMatch(/separate Application and a separate sync, in the same wave under the root Application \(sync it before ringlet-prod when it changed\)/);
    // Both are synced by hand: the runbook's words, for each.
    expect(lines.filter((l) => l.startsWith("    By hand: Sync, all resources, with Prune: ")).length).toBe(2);
    expect(result.stdout).toContain("skips every hook, the PreSync migration included");
    expect(lines.slice(appHeader).join("\n")).toContain(
      "Its PreSync hook Job/ringlet-migrate reads ConfigMap/ringlet-connection, Secret/ringlet-integrations, Secret/ringlet-db-credentials, Secret/ringlet-django from ringlet-prod-data, another Application: never created by this sync.",
    );

    // The steps of each section: "<n>  <phase>  <wave>  <kind>  <name>", in Argo CD's order.
    const steps = (from: number, to: number) =>
      lines
        .slice(from, to)
        .map((l) => /^ +(\d+) +(PreSync|Sync|PostSync) +(-?\d+) +(\S+) +(\S+)/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => `${m[2]} ${m[3]} ${m[4]}/${m[5]}`);
    // prod has a managed database: no in-cluster PostgreSQL in its data layer, an egress policy to
    // the managed one instead. NetworkPolicies first (Argo CD's kind order), by name.
    expect(steps(dataHeader, appHeader)).toEqual([
      "Sync 0 NetworkPolicy/ringlet-acme-http01-solver",
      "Sync 0 NetworkPolicy/ringlet-data-clients",
      "Sync 0 NetworkPolicy/ringlet-default-deny",
      "Sync 0 NetworkPolicy/ringlet-dns",
      "Sync 0 NetworkPolicy/ringlet-external-services",
      "Sync 0 NetworkPolicy/ringlet-managed-postgres",
      "Sync 0 NetworkPolicy/ringlet-redis",
      "Sync 0 NetworkPolicy/ringlet-redis-cache",
      "Sync 0 NetworkPolicy/ringlet-web",
      "Sync 0 PodDisruptionBudget/ringlet-redis",
      "Sync 0 ConfigMap/ringlet-connection",
      "Sync 0 Service/ringlet-redis",
      "Sync 0 Service/ringlet-redis-cache",
      "Sync 0 Service/ringlet-redis-headless",
      "Sync 0 Deployment/ringlet-redis-cache",
      "Sync 0 StatefulSet/ringlet-redis",
      "Sync 0 ExternalSecret/ringlet-db-credentials",
      "Sync 0 ExternalSecret/ringlet-django",
      "Sync 0 ExternalSecret/ringlet-integrations",
    ]);
    const config = (await render(repo, "overlays/prod")).find((o) => o.kind === "ConfigMap")!.metadata.name as string;
    expect(config).toMatch(/^ringlet-config-[2456789bcdfghkmt]{10}$/);
    const app = steps(appHeader, lines.length);
    expect(app).toEqual([
      "PreSync 0 Job/ringlet-migrate",
      "Sync 0 PodDisruptionBudget/ringlet-web",
      "Sync 0 PodDisruptionBudget/ringlet-worker",
      `Sync 0 ConfigMap/${config}`,
      "Sync 0 Service/ringlet-web",
      "Sync 0 Deployment/ringlet-beat",
      "Sync 0 Deployment/ringlet-web",
      "Sync 0 Deployment/ringlet-worker",
      "Sync 0 HorizontalPodAutoscaler/ringlet-web",
      "Sync 0 HorizontalPodAutoscaler/ringlet-worker",
      "Sync 0 Ingress/ringlet-web",
    ]);
    // The hook is marked, with its delete policy.
    expect(lines[at(/^ +1 +PreSync +0 +Job +ringlet-migrate /)]).toMatch(/hook, delete policy BeforeHookCreation$/);
    expect(result.stdout).toMatch(/nothing runs before what it reads exists/);
  });

  it("plan puts the migration Job first in every environment", async () => {
    for (const env of ["dev", "staging", "prod"]) {
      const result = await repo.cli(["plan", env, "--json"]);
      expect(result.code).toBe(0);
      const plan = JSON.parse(result.stdout);
      expect(plan.applications.map((a: Obj) => a.name)).toEqual([`ringlet-${env}-data`, `ringlet-${env}`]);
      const steps = plan.applications[1].steps as Obj[];
      expect(steps[0]).toEqual({ order: 1, phase: "PreSync", wave: 0, kind: "Job", name: "ringlet-migrate", hook: true, deletePolicies: ["BeforeHookCreation"] });
      expect(steps.slice(1).every((s) => s.phase === "Sync" && !s.hook && s.deletePolicies === null)).toBe(true);
      expect(plan.findings).toEqual([]);
    }
  });

  it("plan --json has the documented shape", async () => {
    const result = await repo.cli(["plan", "dev", "--json"]);
    const plan = JSON.parse(result.stdout);
    expect(Object.keys(plan)).toEqual(["environment", "applications", "findings"]);
    expect(plan.environment).toBe("dev");
    const [data, app] = plan.applications as Obj[];
    expect(Object.keys(data!)).toEqual(["name", "path", "destination", "layer", "syncWave", "automated", "steps", "onFailure", "skipped", "hookInputs", "manualSync"]);
    expect({ ...data!, steps: undefined }).toEqual({ name: "ringlet-dev-data", path: "overlays/dev/data", destination: "server https://kubernetes.default.svc", layer: "data", syncWave: -1, automated: true, steps: undefined, onFailure: [], skipped: [], hookInputs: [], manualSync: null });
    // The migration hook reads only what the data Application, synced before, provides.
    expect({ ...app!, steps: undefined }).toEqual({
      name: "ringlet-dev",
      path: "overlays/dev",
      destination: "server https://kubernetes.default.svc",
      layer: "app",
      syncWave: 0,
      automated: true,
      steps: undefined,
      onFailure: [],
      skipped: [],
      hookInputs: [
        // In the order the hook reads them: envFrom, then env.
        { hook: "Job/ringlet-migrate", reads: "ConfigMap/ringlet-connection", from: "ringlet-dev-data" },
        { hook: "Job/ringlet-migrate", reads: "Secret/ringlet-integrations", from: "ringlet-dev-data" },
        { hook: "Job/ringlet-migrate", reads: "Secret/ringlet-db-credentials", from: "ringlet-dev-data" },
        { hook: "Job/ringlet-migrate", reads: "Secret/ringlet-django", from: "ringlet-dev-data" },
      ],
      manualSync: null,
    });
    const prod = JSON.parse((await repo.cli(["plan", "prod", "--json"])).stdout);
    expect(prod.applications.map((a: Obj) => (a.manualSync as string).split(":")[0])).toEqual(["Sync, all resources, with Prune", "Sync, all resources, with Prune"]);
    // dev keeps its in-cluster PostgreSQL: the data layer's order by kind, then name.
    expect((data!.steps as Obj[]).map((s) => `${s.order} ${s.kind}/${s.name}`)).toEqual([
      "1 NetworkPolicy/ringlet-acme-http01-solver",
      "2 NetworkPolicy/ringlet-data-clients",
      "3 NetworkPolicy/ringlet-default-deny",
      "4 NetworkPolicy/ringlet-dns",
      "5 NetworkPolicy/ringlet-external-services",
      "6 NetworkPolicy/ringlet-postgres",
      "7 NetworkPolicy/ringlet-redis",
      "8 NetworkPolicy/ringlet-redis-cache",
      "9 NetworkPolicy/ringlet-web",
      "10 PodDisruptionBudget/ringlet-redis",
      "11 ConfigMap/ringlet-connection",
      "12 PersistentVolumeClaim/ringlet-postgres-backups",
      "13 Service/ringlet-postgres",
      "14 Service/ringlet-postgres-headless",
      "15 Service/ringlet-redis",
      "16 Service/ringlet-redis-cache",
      "17 Service/ringlet-redis-headless",
      "18 Deployment/ringlet-redis-cache",
      "19 StatefulSet/ringlet-postgres",
      "20 StatefulSet/ringlet-redis",
      // Argo CD's kind order puts CronJob after the workloads it backs up.
      "21 CronJob/ringlet-postgres-backup",
      "22 ExternalSecret/ringlet-db-credentials",
      "23 ExternalSecret/ringlet-django",
      "24 ExternalSecret/ringlet-integrations",
    ]);
    expect(Object.keys((app!.steps as Obj[])[0]!)).toEqual(["order", "phase", "wave", "kind", "name", "hook", "deletePolicies"]);
  });

  it("history dev lists both tags, newest first, with their pull requests", async () => {
    const result = await repo.cli(["history", "dev"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const out = result.stdout;
    const current = row(out, "current");
    const previous = row(out, "previous");
    expect(current).toMatch(new RegExp(`^current +v1\\.1\\.0 +${merge12.slice(0, 7)} +\\S+ \\S+ +#12 +Test Runner +Merge pull request #12 from ringlet/deploy/dev/ringlet/v1\\.1\\.0$`));
    expect(previous).toMatch(new RegExp(`^previous +v1\\.0\\.0 +${initial.slice(0, 7)} +\\S+ \\S+ +— +Test Runner +initial$`));
    expect(out.indexOf(current)).toBeLessThan(out.indexOf(previous));
    // What an operator needs for a rollback: the previous tag for the UI, the merge to revert.
    // dev syncs automatically: Argo CD refuses a UI rollback until auto-sync is off.
    expect(out).toContain("ringlet-dev syncs automatically: Argo CD refuses a UI rollback while auto-sync is on");
    expect(out).toContain(`Argo CD UI rollback (with auto-sync off): the sync before it ran v1.0.0 (${initial.slice(0, 7)})`);
    expect(out).toContain(`git revert -m 1 ${merge12.slice(0, 7)}`);
    // The promotion to staging is not dev's history.
    expect(out).not.toContain("#13");
  });

  it("history --json lists the entries field by field", async () => {
    const result = await repo.cli(["history", "dev", "--json"]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(Object.keys(json)).toEqual(["environment", "file", "ref", "commit", "entries", "application", "sync", "uiRollback"]);
    expect(json).toEqual({
      environment: "dev",
      file: "overlays/dev/kustomization.yaml",
      ref: "main",
      commit: merge13,
      entries: [
        {
          image: IMAGE,
          tag: "v1.1.0",
          digest: null,
          previous: { tag: "v1.0.0", digest: null },
          commit: merge12,
          date: await dateOf(repo, merge12),
          author: "Test Runner",
          subject: "Merge pull request #12 from ringlet/deploy/dev/ringlet/v1.1.0",
          pullRequest: 12,
          merge: true,
          current: true,
        },
        {
          image: IMAGE,
          tag: "v1.0.0",
          digest: null,
          previous: null,
          commit: initial,
          date: await dateOf(repo, initial),
          author: "Test Runner",
          subject: "initial",
          pullRequest: null,
          merge: false,
          current: false,
        },
      ],
      application: "ringlet-dev",
      sync: "auto",
      // Nothing dev renders changed after the tag move: one step back is the previous tag.
      uiRollback: { allowed: false, returnsTo: null, laterChanges: [] },
    });
    expect(Object.keys(json.entries[0])).toEqual(["image", "tag", "digest", "previous", "commit", "date", "author", "subject", "pullRequest", "merge", "current"]);
    const staging = JSON.parse((await ok(repo, ["history", "staging", "--json", "--limit", "1"])).stdout);
    expect(staging.entries.map((e: Obj) => [e.tag, e.pullRequest, e.current])).toEqual([["v1.1.0", 13, true]]);
  });

  it("unknown environments, images and limits are usage errors (exit 2)", async () => {
    const plan = await repo.cli(["plan", "qa"]);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain('unknown environment "qa"; environments: dev, staging, prod');
    expect(plan.stdout).toBe("");
    const history = await repo.cli(["history", "qa"]);
    expect(history.code).toBe(2);
    expect(history.stderr).toContain("environments: dev, staging, prod");
    expect((await repo.cli(["plan"])).code).toBe(2);
    expect((await repo.cli(["history", "dev", "--limit", "0"])).code).toBe(2);
    const image = await repo.cli(["history", "dev", "--image", "ghcr.io/ringlet/other"]);
    expect(image.code).toBe(2);
    expect(image.stderr).toContain(`images: ${IMAGE}`);
  });
});

// ------------------------------------------------------------------ longer histories

describe("history across squash merges, unrelated edits and non-semver tags", () => {
  let repo: TestRepo;
  let merge12: string;
  let squash14: string;
  let direct: string;

  beforeAll(async () => {
    repo = await newRepo();
    merge12 = await deployAndMerge(repo, ["bump-image", "v1.1.0"], "deploy/dev/ringlet/v1.1.0", 12);
    await deployAndMerge(repo, ["promote", "staging"], "deploy/staging/ringlet/v1.1.0", 13);
    // An edit of dev's overlay that leaves the tag alone.
    const dev = await repo.read("overlays/dev/kustomization.yaml");
    await repo.write("overlays/dev/kustomization.yaml", dev.replace("namespace: ringlet-dev\n", "namespace: ringlet-dev # the dev namespace\n"));
    await repo.git("commit", "--quiet", "-am", "dev: annotate the namespace (#15)");
    // A squash merge of the next bump.
    await ok(repo, ["bump-image", "v1.2.0"]);
    await repo.git("checkout", "--quiet", "main");
    await repo.git("merge", "--quiet", "--squash", "deploy/dev/ringlet/v1.2.0");
    await repo.git("commit", "--quiet", "-m", "deploy(dev): ringlet v1.1.0 → v1.2.0 (#14)");
    squash14 = await sha(repo);
    // A tag that is not semver, committed straight to main.
    await ok(repo, ["bump-image", "build-42"]);
    await repo.git("checkout", "--quiet", "main");
    await repo.git("merge", "--quiet", "--ff-only", "deploy/dev/ringlet/build-42");
    direct = await sha(repo);
  });

  it("counts only commits that changed the tag, and reads squash-merge pull requests", async () => {
    const json = JSON.parse((await ok(repo, ["history", "dev", "--json"])).stdout);
    expect(json.entries.map((e: Obj) => [e.tag, e.previous?.tag ?? null, e.commit, e.pullRequest, e.merge, e.current])).toEqual([
      ["build-42", "v1.2.0", direct, null, false, true],
      ["v1.2.0", "v1.1.0", squash14, 14, false, false],
      ["v1.1.0", "v1.0.0", merge12, 12, true, false],
      ["v1.0.0", null, json.entries[3]?.commit, null, false, false],
    ]);
    expect(json.entries.some((e: Obj) => e.pullRequest === 15)).toBe(false);

    const limited = JSON.parse((await ok(repo, ["history", "dev", "--json", "--limit", "2", "--image", IMAGE])).stdout);
    expect(limited.entries.map((e: Obj) => e.tag)).toEqual(["build-42", "v1.2.0"]);

    const text = (await ok(repo, ["history", "dev"])).stdout;
    expect(row(text, "previous")).toContain("v1.2.0");
    expect(text).toContain(`git revert ${direct.slice(0, 7)} `);
  });

  it("status decides by commit order where tags are not semver", async () => {
    const json = JSON.parse((await ok(repo, ["status", "--json"])).stdout);
    const [dev, staging, prod] = (json.environments as Obj[]).map((e) => e.images[0]);
    expect([dev.tag, dev.lastChange.commit]).toEqual(["build-42", direct]);
    expect(staging.previous).toEqual({ environment: "dev", state: "behind", by: "commit", level: null, count: null, text: "behind dev (older commit)" });
    expect(prod.previous).toEqual({ environment: "staging", state: "behind", by: "semver", level: "minor", count: 1, text: "1 minor behind staging" });
  });
});

// ------------------------------------------------------------------ broken fixtures for plan

describe("plan flags what would run before what it needs exists", () => {
  let repo: TestRepo;
  let job: string;

  beforeAll(async () => {
    repo = await newRepo();
    job = await repo.read("base/app/migrate-job.yaml");
  });

  async function commitJob(text: string, message: string): Promise<void> {
    await repo.write("base/app/migrate-job.yaml", text);
    await repo.git("commit", "--quiet", "-am", message);
  }

  it("a PreSync hook reading the hashed ringlet-config of its own sync: flagged, exit 1", async () => {
    // The migration container's envFrom gets the application ConfigMap too.
    const marker = "                name: ringlet-connection\n            - secretRef:\n";
    expect(job.split(marker).length - 1).toBe(1);
    await commitJob(job.replace(marker, "                name: ringlet-connection\n            - configMapRef:\n                name: ringlet-config\n            - secretRef:\n"), "migrate: read ringlet-config");
    const hashed = (await render(repo, "overlays/prod")).find((o) => o.kind === "ConfigMap")!.metadata.name as string;
    expect(hashed).toMatch(/^ringlet-config-[a-z0-9]{10}$/);

    const result = await repo.cli(["plan", "prod", "--json"]);
    expect(result.code).toBe(1);
    const plan = JSON.parse(result.stdout);
    expect(plan.findings).toHaveLength(1);
    const [finding] = plan.findings as Obj[];
    expect(Object.keys(finding!)).toEqual(["rule", "application", "object", "path", "message"]);
    expect({ ...finding!, message: undefined }).toEqual({
      rule: "presync-dependency",
      application: "ringlet-prod",
      object: "Job/ringlet-migrate",
      path: "spec.template.spec.containers[0].envFrom[1].configMapRef.name",
      message: undefined,
    });
    expect(finding!.message).toContain(`reads ConfigMap ${hashed}`);
    expect(finding!.message).toContain("content hash");
    expect(finding!.message).toContain(`ConfigMap/${hashed} is created by this same Application in the Sync phase`);

    const text = await repo.cli(["plan", "prod"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/1 problem: something would run before what it needs exists/);
    expect(text.stdout).toContain(`ringlet-prod Job/ringlet-migrate spec.template.spec.containers[0].envFrom[1].configMapRef.name [presync-dependency]`);
    // The order is still shown: the flag is about the plan, not instead of it.
    expect(text.stdout).toMatch(/ 1 +PreSync +0 +Job +ringlet-migrate/);
  });

  it("a hook addressing a Service of its own sync, and a migration Job that is no hook", async () => {
    await commitJob(job.replace("            - name: DATABASE_USER\n", "            - name: SITE_URL\n              value: http://ringlet-web:8000/\n            - name: DATABASE_USER\n"), "migrate: call the web Service");
    const service = JSON.parse((await repo.cli(["plan", "dev", "--json"])).stdout);
    expect(service.findings.map((f: Obj) => [f.rule, f.object, f.path])).toEqual([["hook-service", "Job/ringlet-migrate", "spec.template.spec.containers[0].env[0].value"]]);

    await commitJob(job.replace("    argocd.argoproj.io/hook: PreSync\n", ""), "migrate: no longer a hook");
    const result = await repo.cli(["plan", "staging", "--json"]);
    expect(result.code).toBe(1);
    const plan = JSON.parse(result.stdout);
    expect(plan.findings.map((f: Obj) => [f.rule, f.application, f.object])).toEqual([["migration-order", "ringlet-staging", "Job/ringlet-migrate"]]);
    // Without the hook it is an ordinary Job of the Sync phase, after the Deployments by kind.
    const names = (plan.applications[1].steps as Obj[]).map((s) => `${s.phase} ${s.kind}/${s.name}`);
    expect(names.indexOf("Sync Job/ringlet-migrate")).toBeGreaterThan(names.indexOf("Sync Deployment/ringlet-worker"));
  });
});

// ------------------------------------------------------------------ first install across the root

describe("plan --first-install: the root Application's waves, then each child's own sync", () => {
  let repo: TestRepo;

  beforeAll(async () => {
    repo = await newRepo();
  });

  it("project first, automated data, automated applications, the manual environment last; exit 0", async () => {
    const result = await repo.cli(["plan", "--first-install", "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(Object.keys(plan)).toEqual(["root", "path", "waves", "manual", "manualSync", "findings"]);
    expect(plan.root).toBe("ringlet-root");
    // Within a wave Argo CD orders by kind, then name.
    expect((plan.waves as Obj[]).map((w) => [w.wave, (w.objects as Obj[]).map((o) => `${o.kind}/${o.name}`)])).toEqual([
      [-2, ["AppProject/ringlet"]],
      [-1, ["Application/ringlet-dev-data", "Application/ringlet-staging-data"]],
      [0, ["Application/ringlet-dev", "Application/ringlet-staging"]],
      [1, ["Application/ringlet-prod", "Application/ringlet-prod-data"]],
    ]);
    const prod = (plan.waves[3].objects as Obj[])[0]!;
    expect(prod.application).toEqual({ path: "overlays/prod", automated: false, preSync: ["Job/ringlet-migrate"], sync: 10, postSync: [], note: null });
    expect((plan.waves[1].objects as Obj[])[0]!.application).toMatchObject({ path: "overlays/dev/data", automated: true, preSync: [], postSync: [] });
    expect(plan.manual).toEqual(["ringlet-prod", "ringlet-prod-data"]);
    expect(plan.manualSync).toMatch(/^Sync, all resources, with Prune: /);
    expect(plan.findings).toEqual([]);

    const text = await repo.cli(["plan", "--first-install"]);
    expect(text.code).toBe(0);
    const lines = text.stdout.split("\n");
    expect(lines.filter((l) => /^Wave /.test(l))).toEqual(["Wave -2", "Wave -1", "Wave 0", "Wave 1"]);
    expect(text.stdout).toContain("  Application/ringlet-dev  overlays/dev  automated: syncs itself once created\n      PreSync Job/ringlet-migrate → Sync 10 objects → PostSync: no hooks\n");
    expect(text.stdout).toContain("the root's sync ends only once it is synced (nothing waits on it: last wave)");
  });

  it("a manual Application in an early wave, and the project after its Applications: flagged, exit 1", async () => {
    const prodFile = await repo.read("argocd/prod.yaml");
    const projectFile = await repo.read("argocd/project.yaml");
    // The layout this repository once had: prod's data in the data wave, the project in wave 0.
    const waveOne = '    argocd.argoproj.io/sync-wave: "1"\n';
    expect(prodFile.split(waveOne).length - 1).toBe(2);
    await repo.write("argocd/prod.yaml", prodFile.replace(waveOne, '    argocd.argoproj.io/sync-wave: "-1"\n'));
    await repo.write("argocd/project.yaml", projectFile.replace('    argocd.argoproj.io/sync-wave: "-2"\n', ""));
    const result = await repo.cli(["plan", "--first-install", "--json"]);
    expect(result.code).toBe(1);
    const plan = JSON.parse(result.stdout);
    expect((plan.findings as Obj[]).map((f) => [f.rule, f.object])).toEqual([
      ["project-wave", "AppProject/ringlet"],
      ["manual-blocks-root", "Application/ringlet-prod-data"],
    ]);
    expect(plan.findings[1].message).toContain("so AppProject/ringlet (wave 0), Application/ringlet-dev (wave 0), Application/ringlet-staging (wave 0), Application/ringlet-prod (wave 1) would never be created");
    const text = await repo.cli(["plan", "--first-install"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("with the health check, waves after -1 wait for it");
    expect(text.stdout).toMatch(/2 problems: the first install would stall/);
    // plan without an environment or --first-install is still a usage error.
    expect((await repo.cli(["plan"])).code).toBe(2);
    expect((await repo.cli(["plan", "dev", "--first-install"])).code).toBe(2);
  });
});

// ------------------------------------------------------------------ status with GitHub

describe("status with GITHUB_TOKEN", () => {
  let repo: TestRepo;
  let gh: FakeGitHub;

  beforeAll(async () => {
    repo = await newRepo();
    await deployAndMerge(repo, ["bump-image", "v1.1.0"], "deploy/dev/ringlet/v1.1.0", 12);
    gh = await startFakeGitHub({ owner: OWNER, repo: REPO, token: TOKEN });
  });
  afterAll(async () => {
    await gh.close();
  });

  const env = () => ({ GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: `${OWNER}/${REPO}`, GITOPS_GITHUB_RETRY_UNIT_MS: "1" });

  it("lists the open deploy pull requests of each environment, and never prints the token", async () => {
    const open = gh.addPull({ head: "deploy/dev/ringlet/v2.0.0", title: "deploy(dev): ringlet v1.1.0 → v2.0.0" });
    const prod = gh.addPull({ head: "deploy/prod/ringlet/v1.1.0", title: "promote(prod): ringlet v1.0.0 → v1.1.0 from staging" });
    gh.addPull({ head: "deploy/dev/ringlet/v1.9.0", title: "old", state: "closed" });
    gh.addPull({ head: "deploy/dev/ringlet/v6.6.6", title: "from a fork", headOwner: "someone" });
    gh.addPull({ head: "feature/faster-startup", title: "not a deploy" });

    const result = await repo.cli(["status"], env());
    expect(result.code).toBe(0);
    expect(row(result.stdout, "dev")).toMatch(new RegExp(`#${open.number} ringlet/v2\\.0\\.0$`));
    expect(row(result.stdout, "staging")).toMatch(/ none$/);
    expect(row(result.stdout, "prod")).toMatch(new RegExp(`#${prod.number} ringlet/v1\\.1\\.0$`));
    expect(result.stdout).toContain(`Open deploy pull requests on ${OWNER}/${REPO}:`);
    expect(result.stdout).toContain(`https://github.com/${OWNER}/${REPO}/pull/${open.number}`);

    const json = JSON.parse((await repo.cli(["status", "--json"], env())).stdout);
    expect(json.github).toEqual({ repository: `${OWNER}/${REPO}`, error: null });
    expect(json.environments.map((e: Obj) => e.pullRequests)).toEqual([
      [{ number: open.number, title: "deploy(dev): ringlet v1.1.0 → v2.0.0", url: `https://github.com/${OWNER}/${REPO}/pull/${open.number}`, branch: "deploy/dev/ringlet/v2.0.0", images: ["ghcr.io/ringlet/ringlet"] }],
      [],
      [{ number: prod.number, title: "promote(prod): ringlet v1.0.0 → v1.1.0 from staging", url: `https://github.com/${OWNER}/${REPO}/pull/${prod.number}`, branch: "deploy/prod/ringlet/v1.1.0", images: ["ghcr.io/ringlet/ringlet"] }],
    ]);

    // Every request was a documented one, authenticated with the token, which no output shows.
    expect(gh.violations).toEqual([]);
    expect(gh.requests.length).toBeGreaterThan(0);
    for (const r of gh.requests) expect([r.method, r.operationId, r.headers.authorization]).toEqual(["GET", "pulls/list", `token ${TOKEN}`]);
    for (const text of [result.stdout, result.stderr]) expect(text).not.toContain(TOKEN);
  });

  it("a rejected token: the table still prints, the failure is said, exit 1, and the token stays secret", async () => {
    const wrong = "ghs_WRONGTOKEN789";
    const result = await repo.cli(["status"], { ...env(), GITHUB_TOKEN: wrong });
    expect(result.code).toBe(1);
    expect(row(result.stdout, "dev")).toMatch(/^dev +v1\.1\.0 /);
    expect(result.stdout).toMatch(/warning: open pull requests could not be listed: GitHub rejected the token \(401/);
    for (const text of [result.stdout, result.stderr]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(TOKEN);
    }
  });
});
