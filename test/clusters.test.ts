// An environment on several clusters (issue 12): Ringlet's own spec with prod on two clusters (a
// canary wave, then the rest), generated, rendered with the real kustomize and checked; then
// promoted wave by wave with the real git and the fake GitHub API.
//
// The fixture spec is Ringlet's spec (read from this repository, so it follows it) with
// `clusters` added to prod; every expected value below is written out by hand from the contract
// (DESIGN.md "Clusters", README "An environment on several clusters").
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, parseDocument } from "yaml";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { startFakeGitHub, type FakeGitHub } from "./support/fake-github.ts";
import { testRepos, type TestRepo } from "./support/repo.ts";

const exec = promisify(execFile);
type Obj = Record<string, any>;

const SPEC = "overlays/environments.yaml";
const IMAGE = "ghcr.io/ringlet/ringlet";
const CANARY = "prod/prod-eu-canary";
const REST = "prod/prod-eu";
const SERVER = "https://prod-eu.k8s.example.com";
const OWNER = "ringlet";
const REPO = "ringlet-gitops";
const TOKEN = "ghs_CLUSTERSTOKEN123";

/** Ringlet's spec with prod on two clusters: an automatically synced canary (by Argo CD cluster name), then prod-eu (by server URL). */
function clusterSpec(text: string, extraClusters: Obj[] = []): string {
  const doc = parseDocument(text);
  doc.setIn(["environments", "prod", "clusters"], [
    { name: "prod-eu-canary", wave: 1, host: "canary.ringlet.example.com", sync: "auto", components: { web: { replicas: { min: 1, max: 2 } } } },
    { name: "prod-eu", server: SERVER, wave: 2 },
    ...extraClusters,
  ]);
  return doc.toString({ lineWidth: 0 });
}

async function render(repo: TestRepo, overlay: string): Promise<Obj[]> {
  const { stdout } = await exec(join(TOOLS_ROOT, ".tools", "kubectl"), ["kustomize", join(repo.root, overlay)], { cwd: repo.root, maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

async function objectsOf(repo: TestRepo, file: string): Promise<Obj[]> {
  return parseAllDocuments(await repo.read(file))
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

const newRepo = testRepos();

/** A test repository on the cluster spec, generated and committed on main (and pushed). */
async function clusterRepo(extraClusters: Obj[] = []): Promise<{ repo: TestRepo; generate: { code: number; stdout: string; stderr: string } }> {
  const repo = await newRepo();
  await repo.write(SPEC, clusterSpec(await repo.read(SPEC), extraClusters));
  const generate = await repo.cli(["generate"]);
  await repo.git("add", "-A");
  await repo.git("commit", "--quiet", "-m", "prod on two clusters");
  await repo.git("push", "--quiet", "origin", "main");
  return { repo, generate };
}

function checkRules(stdout: string): string[] {
  const report = JSON.parse(stdout) as { findings: { rule: string }[] };
  return report.findings.map((f) => f.rule);
}

describe("prod on two clusters: generate", () => {
  let repo: TestRepo;
  let generated: { code: number; stdout: string; stderr: string };
  beforeAll(async () => {
    ({ repo, generate: generated } = await clusterRepo());
  });

  it("writes one overlay per cluster and layer, and none for prod itself; prod's tag is carried to both", async () => {
    expect(generated.stderr).not.toMatch(/error/i);
    expect(generated.code).toBe(0);
    const files = (await repo.git("ls-files", "overlays/prod")).split("\n").filter(Boolean);
    expect(files).toContain(`overlays/${CANARY}/kustomization.yaml`);
    expect(files).toContain(`overlays/${CANARY}/data/kustomization.yaml`);
    expect(files).toContain(`overlays/${REST}/kustomization.yaml`);
    expect(files).toContain(`overlays/${REST}/data/kustomization.yaml`);
    expect(files).not.toContain("overlays/prod/kustomization.yaml");
    expect(files).not.toContain("overlays/prod/data/kustomization.yaml");
    for (const stage of [CANARY, REST]) {
      const text = await repo.read(`overlays/${stage}/kustomization.yaml`);
      expect(text).toContain(`  - name: ${IMAGE}\n    newTag: v1.0.0\n`);
    }
  });

  it("each cluster renders its own overrides over prod's settings", async () => {
    const canary = await render(repo, `overlays/${CANARY}`);
    const rest = await render(repo, `overlays/${REST}`);
    const ingressHosts = (objects: Obj[]) => objects.filter((o) => o.kind === "Ingress").flatMap((o) => o.spec.rules.map((r: Obj) => r.host));
    expect(ingressHosts(canary)).toEqual(["canary.ringlet.example.com"]);
    expect(ingressHosts(rest)).toEqual(["ringlet.example.com"]);
    const webHpa = (objects: Obj[]) => objects.find((o) => o.kind === "HorizontalPodAutoscaler" && o.metadata.name === "ringlet-web")?.spec;
    expect(webHpa(canary)).toMatchObject({ minReplicas: 1, maxReplicas: 2 });
    expect(webHpa(rest)).toMatchObject({ minReplicas: 3, maxReplicas: 10 });
    for (const objects of [canary, rest]) for (const o of objects) if (o.metadata.namespace !== undefined) expect(o.metadata.namespace).toBe("ringlet-prod");
    // The host-derived settings follow the cluster's host (the data layer's stable ConfigMap).
    const connection = (await render(repo, `overlays/${CANARY}/data`)).find((o) => o.kind === "ConfigMap" && o.metadata.name === "ringlet-connection");
    expect(connection?.data.DJANGO_ALLOWED_HOSTS).toBe("canary.ringlet.example.com,localhost");
  });

  it("one Application per cluster and layer, each to its own cluster; the project allows exactly those destinations", async () => {
    const apps = await objectsOf(repo, "argocd/prod.yaml");
    const summary = apps.map((a) => ({ name: a.metadata.name, path: a.spec.source.path, destination: a.spec.destination, automated: a.spec.syncPolicy.automated !== undefined, wave: a.metadata.annotations["argocd.argoproj.io/sync-wave"] }));
    expect(summary).toEqual([
      { name: "ringlet-prod-prod-eu-canary-data", path: `overlays/${CANARY}/data`, destination: { name: "prod-eu-canary", namespace: "ringlet-prod" }, automated: true, wave: "-1" },
      { name: "ringlet-prod-prod-eu-canary", path: `overlays/${CANARY}`, destination: { name: "prod-eu-canary", namespace: "ringlet-prod" }, automated: true, wave: "0" },
      { name: "ringlet-prod-prod-eu-data", path: `overlays/${REST}/data`, destination: { server: SERVER, namespace: "ringlet-prod" }, automated: false, wave: "1" },
      { name: "ringlet-prod-prod-eu", path: `overlays/${REST}`, destination: { server: SERVER, namespace: "ringlet-prod" }, automated: false, wave: "1" },
    ]);
    // The manual cluster cannot be deleted by the root's prune; the automatic one can be.
    expect(apps[3]!.metadata.annotations["argocd.argoproj.io/sync-options"]).toBe("Prune=false,Delete=false");
    expect(apps[1]!.metadata.annotations["argocd.argoproj.io/sync-options"]).toBeUndefined();
    const [project] = await objectsOf(repo, "argocd/project.yaml");
    expect(project!.spec.destinations).toEqual([
      { server: "https://kubernetes.default.svc", namespace: "ringlet-dev" },
      { server: "https://kubernetes.default.svc", namespace: "ringlet-staging" },
      { name: "prod-eu-canary", namespace: "ringlet-prod" },
      { server: SERVER, namespace: "ringlet-prod" },
    ]);
    // The root lets operators switch auto-sync off on the automatic canary (a UI rollback).
    const root = (await objectsOf(repo, "argocd/root.yaml")).find((o) => o.kind === "Application")!;
    const ignored = root.spec.ignoreDifferences.map((e: Obj) => e.name);
    expect(ignored).toContain("ringlet-prod-prod-eu-canary");
    expect(ignored).toContain("ringlet-prod-prod-eu-canary-data");
    expect(ignored).not.toContain("ringlet-prod-prod-eu");
  });

  it("diff renders each cluster's overlays as a stage of its own", async () => {
    const file = `overlays/${CANARY}/kustomization.yaml`;
    const original = await repo.read(file);
    await repo.write(file, original.replace("    newTag: v1.0.0\n", "    newTag: v9.9.9\n"));
    try {
      const diff = await repo.cli(["diff"]);
      expect(diff.code).toBe(0);
      expect(diff.stdout).toContain(CANARY);
      expect(diff.stdout).toContain(`${IMAGE}:v9.9.9`);
      // Every stage in the summary: the canary changed, prod-eu did not.
      expect(diff.stdout).toContain(`  ${REST}: no changes\n`);
      expect(diff.stdout).not.toContain(`  ${CANARY}: no changes`);
    } finally {
      await repo.write(file, original);
    }
    // Two full renders of every stage (HEAD and the working tree): slow on a loaded machine.
  }, 180_000);

  it("check finds nothing, and generate says everything is up to date", async () => {
    const check = await repo.cli(["check", "--json"]);
    expect(checkRules(check.stdout)).toEqual([]);
    expect(check.code).toBe(0);
    const again = await repo.cli(["generate", "--dry-run"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/up to date/);
  });
});

describe("prod on two clusters: check rules per cluster (broken fixture fires, clean case above stays quiet)", () => {
  let repo: TestRepo;
  beforeAll(async () => {
    ({ repo } = await clusterRepo());
  });

  async function breakAndCheck(file: string, edit: (text: string) => string): Promise<string[]> {
    const original = await repo.read(file);
    const broken = edit(original);
    expect(broken).not.toBe(original);
    await repo.write(file, broken);
    try {
      const result = await repo.cli(["check", "--json"]);
      expect(result.code).toBe(1);
      return checkRules(result.stdout);
    } finally {
      await repo.write(file, original);
    }
  }

  it("an Application of one cluster pointed at the other cluster: clusters/destination", async () => {
    const rules = await breakAndCheck("argocd/prod.yaml", (t) => t.replace(`    name: prod-eu-canary\n    namespace: ringlet-prod`, `    server: ${SERVER}\n    namespace: ringlet-prod`));
    expect(rules).toContain("clusters/destination");
    expect(rules).toContain("clusters/shared-destination");
  });

  it("a project that lets any namespace of any cluster in: clusters/project-destinations", async () => {
    const rules = await breakAndCheck("argocd/project.yaml", (t) => t.replace(`    - name: prod-eu-canary\n      namespace: ringlet-prod`, `    - name: "*"\n      namespace: "*"`));
    expect(rules).toContain("clusters/project-destinations");
  });

  it("a project without one cluster's destination: clusters/project-destinations", async () => {
    const rules = await breakAndCheck("argocd/project.yaml", (t) => t.replace(`    - server: ${SERVER}\n      namespace: ringlet-prod\n`, ""));
    expect(rules).toContain("clusters/project-destinations");
  });

  it("the root no longer ignores the automatic canary's auto-sync: argocd/child-sync-policy", async () => {
    const rules = await breakAndCheck("argocd/root.yaml", (t) => t.replace(/    - group: argoproj\.io\n      kind: Application\n      name: ringlet-prod-prod-eu-canary\n      jsonPointers:\n        - \/spec\/syncPolicy\/automated\n/, ""));
    expect(rules).toContain("argocd/child-sync-policy");
  });

  it("the manual cluster loses Prune=false,Delete=false: argocd/cascade-deletion", async () => {
    const rules = await breakAndCheck("argocd/prod.yaml", (t) => t.replace("    argocd.argoproj.io/sync-options: Prune=false,Delete=false\n", ""));
    expect(rules).toContain("argocd/cascade-deletion");
  });

  it("the canary runs ahead of staging: consistency/promotion-order", async () => {
    const rules = await breakAndCheck(`overlays/${CANARY}/kustomization.yaml`, (t) => t.replace("    newTag: v1.0.0\n", "    newTag: v9.0.0\n"));
    expect(rules).toContain("consistency/promotion-order");
  });
});

describe("prod on two clusters: spec errors", () => {
  it("two clusters of one environment on the same Argo CD cluster are refused with file, line and path", async () => {
    const repo = await newRepo();
    await repo.write(SPEC, clusterSpec(await repo.read(SPEC), [{ name: "prod-eu-again", server: `${SERVER}/`, wave: 2 }]));
    const before = await repo.snapshot();
    const result = await repo.cli(["generate"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/overlays\/environments\.yaml:\d+: environments\.prod\.clusters\[2\]\.server: .*same Argo CD cluster/);
    expect(await repo.snapshot()).toEqual(before);
  });
});

describe("promotion waves: a wave of two clusters", () => {
  it("a tag leaves a wave only once every cluster of it runs it; peers of one wave do not promote to each other", async () => {
    // prod-us joins the canary wave: wave 1 = prod-eu-canary, prod-us; wave 2 = prod-eu.
    const { repo } = await clusterRepo([{ name: "prod-us", wave: 1 }]);
    const file = `overlays/${CANARY}/kustomization.yaml`;
    await repo.write(file, (await repo.read(file)).replace("    newTag: v1.0.0\n", "    newTag: v1.1.0\n"));
    for (const env of ["dev", "staging"]) {
      const f = `overlays/${env}/kustomization.yaml`;
      await repo.write(f, (await repo.read(f)).replace("    newTag: v1.0.0\n", "    newTag: v1.1.0\n"));
    }
    await repo.git("commit", "--quiet", "-am", "canary runs v1.1.0, prod-us not yet");
    const before = await repo.state();
    const leave = await repo.cli(["promote", CANARY, REST, "--dry-run", "--override", "soak=x", "--override", "checks=x"]);
    expect(leave.code).toBe(1);
    expect(leave.stderr).toContain("overlays/prod/prod-us/kustomization.yaml");
    expect(leave.stderr).toContain("a tag leaves wave 1 of prod only once every cluster of it runs it");
    const peers = await repo.cli(["promote", CANARY, "prod/prod-us", "--dry-run"]);
    expect(peers.code).toBe(1);
    expect(peers.stderr).toContain("are in the same wave (1)");
    expect(await repo.state()).toEqual(before);
    // The way: from staging to the other cluster of the wave.
    const ok = await repo.cli(["promote", "staging", "prod/prod-us", "--dry-run", "--override", "soak=x", "--override", "checks=x"]);
    expect(ok.stderr).toContain("gates into prod/prod-us");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("deploy/prod/prod-us/ringlet/v1.1.0");
  });
});

// ------------------------------------------------------------------ promotion waves

const fakes: FakeGitHub[] = [];
afterAll(async () => {
  await Promise.all(fakes.splice(0).map((gh) => gh.close()));
});

describe("promotion waves: prod's canary first, then the rest", () => {
  let repo: TestRepo;
  let gh: FakeGitHub;
  const withToken = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    repo.cli(args, { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: `${OWNER}/${REPO}`, GITOPS_GITHUB_RETRY_UNIT_MS: "1", ...extra });

  /** Sets a stage's tag on main directly (a merged deploy, without the ceremony), and pushes. */
  async function land(stage: string, tag: string): Promise<void> {
    await repo.git("switch", "--quiet", "main");
    const file = `overlays/${stage}/kustomization.yaml`;
    const text = await repo.read(file);
    const updated = text.replace(/(  - name: ghcr\.io\/ringlet\/ringlet\n    newTag: )\S+\n/, `$1${tag}\n`);
    expect(updated).not.toBe(text);
    await repo.write(file, updated);
    await repo.git("commit", "--quiet", "-am", `land ${tag} in ${stage}`);
    await repo.git("push", "--quiet", "origin", "main");
  }

  beforeAll(async () => {
    ({ repo } = await clusterRepo());
    gh = await startFakeGitHub({ owner: OWNER, repo: REPO, token: TOKEN });
    fakes.push(gh);
    await land("dev", "v1.1.0");
    await land("staging", "v1.1.0");
  });

  it("prod alone names no stage: the error lists its clusters' stages (usage, exit 2)", async () => {
    const result = await repo.cli(["promote", "staging", "prod"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${CANARY} (wave 1), ${REST} (wave 2)`);
  });

  it("skipping the canary wave is refused without --force", async () => {
    const before = await repo.state();
    const result = await repo.cli(["promote", "staging", REST]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`staging → ${REST} skips ${CANARY}`);
    expect(await repo.state()).toEqual(before);
  });

  it("promote --from staging goes to the canary: one line in its overlay, branch deploy/prod/prod-eu-canary/ringlet/v1.1.0, one pull request", async () => {
    const target = await repo.cli(["promote", "--dry-run", "--json", "--from", "staging", "--override", "soak=test", "--override", "checks=test"]);
    expect(JSON.parse(target.stdout).environment).toBe(CANARY);

    const file = `overlays/${CANARY}/kustomization.yaml`;
    const original = await repo.read(file);
    const result = await withToken(["promote", "staging", CANARY, "--override", "soak=fixture", "--override", "checks=fixture"]);
    expect(result.stderr).not.toContain(TOKEN);
    expect(result.code).toBe(0);
    expect((await repo.git("branch", "--show-current")).trim()).toBe(`deploy/${CANARY}/ringlet/v1.1.0`);
    expect((await repo.git("diff", "--name-only", "main", "HEAD")).trim()).toBe(file);
    const oldLines = original.split("\n");
    const newLines = (await repo.read(file)).split("\n");
    expect(newLines.filter((l, i) => l !== oldLines[i])).toEqual(["    newTag: v1.1.0"]);
    expect(gh.violations).toEqual([]);
    expect(gh.pulls.map((p) => ({ head: p.head, labels: p.labels }))).toEqual([{ head: `deploy/${CANARY}/ringlet/v1.1.0`, labels: ["deploy", `env:${CANARY}`, "image:ringlet"] }]);
    expect(gh.pulls[0]?.title).toContain("v1.0.0 → v1.1.0");
    // prod-eu did not move.
    expect(await repo.read(`overlays/${REST}/kustomization.yaml`)).toContain("    newTag: v1.0.0\n");
  });

  it("the next wave soaks in the canary: prod's gates look at prod/prod-eu-canary", async () => {
    await repo.git("switch", "--quiet", "main");
    await repo.git("merge", "--quiet", "--no-ff", "-m", "Merge canary", `deploy/${CANARY}/ringlet/v1.1.0`);
    await repo.git("push", "--quiet", "origin", "main");
    const now = new Date(Date.now() + 60 * 60 * 1000);
    // Not in the weekend freeze window of Ringlet's prod gates.
    while ([0, 5, 6].includes(now.getUTCDay())) now.setUTCDate(now.getUTCDate() + 1);
    const result = await repo.cli(["promote", "--from", "prod", "--dry-run"], { GITOPS_NOW: now.toISOString() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`ran in ${CANARY.replace("/", "\\/")} for|has run in ${CANARY.replace("/", "\\/")} for`));
    expect(result.stderr).toContain("24h required");
  });

  it("promote --from prod then carries the canary's tag to the next wave", async () => {
    const target = await repo.cli(["promote", "--dry-run", "--json", "--from", "prod", "--override", "soak=test", "--override", "checks=test"]);
    expect(JSON.parse(target.stdout)).toMatchObject({ from: CANARY, environment: REST });
    const result = await repo.cli(["promote", "--from", "prod", "--override", "soak=canary watched", "--override", "checks=fixture"]);
    expect(result.code).toBe(0);
    expect((await repo.git("branch", "--show-current")).trim()).toBe(`deploy/${REST}/ringlet/v1.1.0`);
    expect((await repo.git("diff", "--name-only", "main", "HEAD")).trim()).toBe(`overlays/${REST}/kustomization.yaml`);
  });

  it("status shows every cluster of prod, history one of them", async () => {
    await repo.git("switch", "--quiet", "main");
    const status = await repo.cli(["status", "--json"]);
    expect(status.code).toBe(0);
    const rows = (JSON.parse(status.stdout).environments as Obj[]).map((e) => [e.name, e.images[0].tag]);
    expect(rows).toEqual([
      ["dev", "v1.1.0"],
      ["staging", "v1.1.0"],
      [CANARY, "v1.1.0"],
      [REST, "v1.0.0"],
    ]);
    const history = await repo.cli(["history", CANARY]);
    expect(history.code).toBe(0);
    expect(history.stdout).toContain("v1.1.0");
    expect(history.stdout).toContain("ringlet-prod-prod-eu-canary");
  });

  it("a hold on prod holds each of its clusters", async () => {
    await repo.write("overlays/holds.yaml", "holds:\n  - environment: prod\n    reason: fixture freeze\n");
    await repo.git("add", "overlays/holds.yaml");
    await repo.git("commit", "--quiet", "-m", "hold prod");
    // prod-eu's own move is on its deploy branch already; a new tag into it is held.
    const result = await repo.cli(["bump-image", "v1.2.0", "--env", REST, "--force", "--dry-run", "--override", "soak=x", "--override", "checks=x"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("fixture freeze");
  });
});
