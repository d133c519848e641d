// Issue 11, "every command tells the truth" (items 10-15), end to end: the real CLI against temp
// repositories with a bare origin (test/support/repo.ts). Refusals are also in bad-input.test.ts;
// here are the cases where a command used to succeed with a wrong answer.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { cleanEnv, testRepos, TSX_LOADER, type TestRepo } from "./support/repo.ts";
import type { Finding } from "../tools/rules/types.ts";

const exec = promisify(execFile);
const newRepo = testRepos();
// Each test chains several CLI runs (kustomize, git); on a shared two-core machine that can take minutes.
vi.setConfig({ testTimeout: 300_000 });
const SPEC = "overlays/environments.yaml";
const CLI = join(TOOLS_ROOT, "tools", "cli.ts");

/** A finding as `check --json` prints it (the tools' own type). */
type JsonFinding = Finding;

async function edit(repo: TestRepo, path: string, from: string, to: string): Promise<void> {
  const text = await repo.read(path);
  if (text.split(from).length !== 2) throw new Error(`fixture: ${JSON.stringify(from)} must occur once in ${path}`);
  await repo.write(path, text.replace(from, to));
}

async function commitAll(repo: TestRepo, message: string): Promise<string> {
  await repo.git("add", "-A");
  await repo.git("commit", "--quiet", "-m", message);
  return (await repo.git("rev-parse", "HEAD")).trim();
}

/** 1-based line of the first line equal to `line` after the first line equal to `after` (if given). */
function lineOf(text: string, line: string, after?: string): number {
  const lines = text.split("\n");
  const start = after === undefined ? 0 : lines.indexOf(after);
  const at = lines.indexOf(line, start);
  if (start < 0 || at < 0) throw new Error(`fixture: no line ${JSON.stringify(line)}`);
  return at + 1;
}

async function checkJson(repo: TestRepo): Promise<{ code: number; findings: JsonFinding[]; stdout: string }> {
  const r = await repo.cli(["check", "--json"]);
  return { code: r.code, findings: (JSON.parse(r.stdout) as { findings: JsonFinding[] }).findings, stdout: r.stdout };
}

describe("12: findings point at the right place", () => {
  it("reports a spec syntax error at its own line, in text and JSON", async () => {
    const repo = await newRepo();
    await edit(repo, SPEC, "    host: ringlet.example.com\n", "    host: [ringlet.example.com\n");
    const line = lineOf(await repo.read(SPEC), "    host: [ringlet.example.com");
    expect(line).toBeGreaterThan(40);

    const json = await checkJson(repo);
    expect(json.code).toBe(1);
    const parse = json.findings.filter((f) => f.file === SPEC);
    expect(parse.length).toBeGreaterThan(0);
    // The error is where the flow sequence starts or where it was found unclosed: never the top of the file.
    for (const f of parse) expect(f.line, JSON.stringify(f)).toBeGreaterThanOrEqual(line);

    const text = await repo.cli(["check"]);
    expect(text.stdout).toContain(`${SPEC}:${parse[0]!.line}: spec/invalid`);
  });

  it("reports a YAML error in a base file as a parse error at its line, not as drift", async () => {
    const repo = await newRepo();
    await edit(repo, "base/app/web-hpa.yaml", "kind: HorizontalPodAutoscaler\n", "kind: [HorizontalPodAutoscaler\n");
    const { code, findings } = await checkJson(repo);
    expect(code).toBe(1);
    const parse = findings.filter((f) => f.file === "base/app/web-hpa.yaml" && f.rule === "yaml/parse");
    expect(parse.length, JSON.stringify(findings, null, 1)).toBeGreaterThan(0);
    expect(parse[0]!.line).toBeGreaterThanOrEqual(lineOf(await repo.read("base/app/web-hpa.yaml"), "kind: [HorizontalPodAutoscaler"));
    expect(findings.filter((f) => f.rule === "drift/generated")).toEqual([]);
  });

  it("attributes a value an overlay patch sets to the patch, and finds a container by name when a patch reorders them", async () => {
    const repo = await newRepo();
    // A hand-written patch in staging lets the worker escalate privileges.
    await repo.write(
      "overlays/staging/hand.yaml",
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ringlet-worker\nspec:\n  template:\n    spec:\n      containers:\n        - name: worker\n          securityContext:\n            allowPrivilegeEscalation: true\n",
    );
    await edit(repo, "overlays/staging/kustomization.yaml", "patches:\n", "patches:\n  - path: hand.yaml\n");
    // The base web pod gets a helper container before web, and may run as root (a finding per
    // container). dev's generated resources patch merges web by name, which puts web first.
    await edit(repo, "base/app/web-deployment.yaml", "      containers:\n        - name: web\n", "      containers:\n        - name: helper\n          image: ghcr.io/ringlet/ringlet\n        - name: web\n");
    await edit(repo, "base/app/web-deployment.yaml", "        runAsNonRoot: true\n", "        runAsNonRoot: false\n");
    // And a JSON patch adds a sidecar in dev.
    await repo.write("overlays/dev/sidecar.yaml", "- op: add\n  path: /spec/template/spec/containers/0\n  value:\n    name: sidecar\n    image: ghcr.io/ringlet/ringlet\n");
    await edit(repo, "overlays/dev/kustomization.yaml", "patches:\n", "patches:\n  - path: sidecar.yaml\n    target:\n      kind: Deployment\n      name: ringlet-web\n");

    const { findings } = await checkJson(repo);
    const escalation = findings.find((f) => f.env === "staging" && f.object === "Deployment/ringlet-worker" && f.path.endsWith("securityContext.allowPrivilegeEscalation"));
    expect(escalation, JSON.stringify(findings, null, 1)).toMatchObject({ file: "overlays/staging/hand.yaml", line: lineOf(await repo.read("overlays/staging/hand.yaml"), "            allowPrivilegeEscalation: true") });

    const base = await repo.read("base/app/web-deployment.yaml");
    const [helperLine, webLine] = [lineOf(base, "        - name: helper"), lineOf(base, "        - name: web")];
    const root = (container: string) => findings.find((f) => f.env === "dev" && f.object === "Deployment/ringlet-web" && f.message.includes(`container "${container}" may run as root`));
    const web = root("web");
    const helper = root("helper");
    expect(web, JSON.stringify(findings.filter((f) => f.env === "dev"), null, 1)).toMatchObject({ file: "base/app/web-deployment.yaml" });
    expect(helper).toMatchObject({ file: "base/app/web-deployment.yaml" });
    // Each on its own container's lines, whatever index it renders at.
    expect(helper!.line).toBeGreaterThanOrEqual(helperLine);
    expect(helper!.line).toBeLessThan(webLine);
    expect(web!.line).toBeGreaterThan(webLine);
    // The sidecar's findings point at the patch that added it.
    const sidecar = root("sidecar");
    expect(sidecar).toMatchObject({ file: "overlays/dev/sidecar.yaml", line: 1 });
  });

  it("names the spec key behind a finding in a generated file", async () => {
    const repo = await newRepo();
    await edit(repo, SPEC, "    sync: manual\n", "    sync: auto\n");
    expect((await repo.cli(["generate"])).code).toBe(0);
    const { findings } = await checkJson(repo);
    const manual = findings.find((f) => f.rule === "argocd/manual-production");
    expect(manual, JSON.stringify(findings, null, 1)).toMatchObject({ file: SPEC, path: "environments.prod.sync", line: lineOf(await repo.read(SPEC), "    sync: auto", "  prod:") });
    expect(manual!.message).toContain("argocd/prod.yaml");
  });

  it("after a spec edit without generate, says so in one line", async () => {
    const repo = await newRepo();
    await edit(repo, SPEC, "      GUNICORN_WORKERS: \"2\"\n", "      GUNICORN_WORKERS: \"3\"\n");
    const spec = await repo.read(SPEC);
    await edit(repo, SPEC, "  prod:\n", "  qa:\n    namespace: ringlet-qa\n    host: qa.ringlet.example.com\n    sync: manual\n\n  prod:\n");
    const r = await repo.cli(["check"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${SPEC}: spec/changed: the spec changed: run \`pnpm generate\`\n\n1 finding\n`);
    // Generate makes it clean again (and the same holds for the first edit alone).
    await repo.write(SPEC, spec);
    expect((await repo.cli(["check"])).stdout).toContain("the spec changed");
    expect((await repo.cli(["generate"])).code).toBe(0);
    expect((await repo.cli(["check"])).code).toBe(0);
  });
});

describe("11: no silent resets or hidden promotions", () => {
  it("keeps an environment's tag when the spec renames the image", async () => {
    const repo = await newRepo();
    await edit(repo, "overlays/prod/kustomization.yaml", "    newTag: v1.0.0\n", "    newTag: v1.2.0\n");
    await commitAll(repo, "prod on v1.2.0");
    await edit(repo, SPEC, "  - name: ghcr.io/ringlet/ringlet\n", "  - name: ghcr.io/ringlet/ringlet-app\n");
    const r = await repo.cli(["generate"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("prod: ghcr.io/ringlet/ringlet-app keeps the tag of ghcr.io/ringlet/ringlet (v1.2.0)");
    expect(await repo.read("overlays/prod/kustomization.yaml")).toContain("  - name: ghcr.io/ringlet/ringlet-app\n    newTag: v1.2.0\n");
  });

  it("keeps a renamed environment's tags, and diff shows the images of added and removed environments", async () => {
    const repo = await newRepo();
    await edit(repo, "overlays/dev/kustomization.yaml", "    newTag: v1.0.0\n", "    newTag: v1.2.0\n");
    await edit(repo, "overlays/staging/kustomization.yaml", "    newTag: v1.0.0\n", "    newTag: v1.1.0\n");
    await commitAll(repo, "dev on v1.2.0, staging on v1.1.0");
    await edit(repo, SPEC, "\n  staging:\n", "\n  qa:\n");
    const r = await repo.cli(["generate"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("qa takes over the tags of staging (ghcr.io/ringlet/ringlet v1.1.0)");
    expect(await repo.read("overlays/qa/kustomization.yaml")).toContain("    newTag: v1.1.0\n");

    const diff = await repo.cli(["diff"]);
    expect(diff.stdout).toContain("qa: new environment, will run ghcr.io/ringlet/ringlet:v1.1.0");
    expect(diff.stdout).toContain("staging: removed environment, ran ghcr.io/ringlet/ringlet:v1.1.0");
    const md = await repo.cli(["diff", "--format", "markdown"]);
    expect(md.stdout).toContain("- **qa**: new environment, will run ghcr.io/ringlet/ringlet:v1.1.0");
  });

  it("asks before renaming the app, whose Applications a pruning root would delete and recreate", async () => {
    const repo = await newRepo();
    await edit(repo, SPEC, "name: ringlet\n", "name: ringlet2\n");
    const before = await repo.state();
    const refused = await repo.cli(["generate"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("renames the app from ringlet to ringlet2");
    expect(refused.stderr).toContain("ringlet-dev");
    expect(refused.stderr).toContain("--rename-app");
    expect(await repo.state()).toEqual(before);
    const confirmed = await repo.cli(["generate", "--rename-app"]);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(await repo.read("argocd/dev.yaml")).toContain("  name: ringlet2-dev\n");
  });
});

describe("10 and 15: tag moves", () => {
  it("quotes OCI tags that YAML 1.1 reads as numbers, and lets --force move a later stage", async () => {
    const repo = await newRepo();
    const hex = await repo.cli(["bump-image", "0X1F"]);
    expect(hex.code, hex.stderr).toBe(0);
    expect(await repo.read("overlays/dev/kustomization.yaml")).toContain('    newTag: "0X1F"\n');
    await repo.git("checkout", "--quiet", "main");
    const forced = await repo.cli(["bump-image", "v1.1.0", "--env", "staging", "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await repo.read("overlays/staging/kustomization.yaml")).toContain("    newTag: v1.1.0\n");
  });

  it("says whose identity a commit used when git has none", async () => {
    const repo = await newRepo();
    await repo.git("config", "--unset", "user.name");
    await repo.git("config", "--unset", "user.email");
    const r = await repo.cli(["bump-image", "v1.0.1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("no git identity is configured here, so the commit's author is gitops-bot <gitops-bot@users.noreply.github.com>");
  });
});

describe("14: history's rollback advice", () => {
  it("says a UI rollback is refused under auto-sync, and where one step back goes after a later config change", async () => {
    const repo = await newRepo();
    await edit(repo, "overlays/dev/kustomization.yaml", "    newTag: v1.0.0\n", "    newTag: v1.1.0\n");
    const move = await commitAll(repo, "deploy(dev): v1.1.0");
    await edit(repo, SPEC, "      DJANGO_LOG_LEVEL: DEBUG\n", "      DJANGO_LOG_LEVEL: INFO\n");
    expect((await repo.cli(["generate"])).code).toBe(0);
    const config = await commitAll(repo, "dev logs at INFO");

    const dev = await repo.cli(["history", "dev"]);
    expect(dev.code, dev.stderr).toBe(0);
    expect(dev.stdout).toContain("ringlet-dev syncs automatically: Argo CD refuses a UI rollback while auto-sync is on");
    expect(dev.stdout).toContain(`one step back returns to revision ${move.slice(0, 7)}`);
    expect(dev.stdout).toContain("which still runs v1.1.0");
    expect(dev.stdout).toContain(`newest: ${config.slice(0, 7)}`);
    const json = JSON.parse((await repo.cli(["history", "dev", "--json"])).stdout) as { sync: string; uiRollback: { allowed: boolean; returnsTo: string } };
    expect(json.sync).toBe("auto");
    expect(json.uiRollback).toMatchObject({ allowed: false, returnsTo: move });

    const prod = await repo.cli(["history", "prod"]);
    expect(prod.stdout).not.toContain("refuses a UI rollback");
  });
});

describe("15: conventions", () => {
  it("resolves a relative --root from where pnpm was called, and refuses an empty one", async () => {
    const repo = await newRepo();
    // As `pnpm check --root work` run in the parent of the repository: pnpm runs the script in
    // the package's directory and passes the caller's directory as INIT_CWD.
    const env = cleanEnv({ INIT_CWD: dirname(repo.root), npm_package_json: join(TOOLS_ROOT, "package.json") });
    const run = (args: string[]) =>
      exec(process.execPath, ["--import", TSX_LOADER, CLI, ...args], { cwd: TOOLS_ROOT, env }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const relative = await run(["status", "--json", "--root", basename(repo.root)]);
    expect(relative.code, relative.stderr).toBe(0);
    expect((JSON.parse(relative.stdout) as { commit: string }).commit).toBe((await repo.git("rev-parse", "HEAD")).trim());
    const empty = await run(["check", "--root", ""]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("--root needs a directory");
  });

  it("prints no EPIPE stack trace when the reader goes away", async () => {
    const repo = await newRepo();
    const dir = await mkdtemp(join(tmpdir(), "ringlet-epipe-"));
    try {
      const errors = join(dir, "stderr");
      // `true` exits without reading: every write of render meets a closed pipe.
      await exec("bash", ["-c", `"$0" --import "$1" "$2" render dev --root "$3" 2>"$4" | true`, process.execPath, TSX_LOADER, CLI, repo.root, errors], { env: cleanEnv() });
      expect(await readFile(errors, "utf8")).toBe("");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("status reads the spec and the overlays of the same revision", async () => {
    const repo = await newRepo();
    // A new environment, generated but not committed: main has no overlay for it.
    await edit(repo, SPEC, "  prod:\n", "  qa:\n    namespace: ringlet-qa\n    host: qa.ringlet.example.com\n    sync: manual\n\n  prod:\n");
    expect((await repo.cli(["generate"])).code).toBe(0);
    const r = await repo.cli(["status", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { environments: { name: string }[] }).environments.map((e) => e.name)).toEqual(["dev", "staging", "prod"]);
  });

  it("handles an environment named constructor as a plain name", async () => {
    const repo = await newRepo();
    await edit(repo, SPEC, "\n  staging:\n", "\n  constructor:\n");
    const gen = await repo.cli(["generate"]);
    expect(gen.code, gen.stderr).toBe(0);
    const check = await repo.cli(["check"]);
    expect(check.code, check.stdout).toBe(0);
    const render = await repo.cli(["render", "constructor"]);
    expect(render.code, render.stderr).toBe(0);
    expect(render.stdout).toContain("namespace: ringlet-staging");
    expect((await repo.cli(["status", "--ref", "HEAD"])).code).toBe(0);
  });

  it("bench has --help and refuses a --root that is not a checkout", async () => {
    const bench = (args: string[]) =>
      exec(process.execPath, ["--import", TSX_LOADER, join(TOOLS_ROOT, "bench", "run.ts"), ...args], { cwd: TOOLS_ROOT, env: cleanEnv() }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const help = await bench(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--root <dir>");
    const bad = await bench(["--root", tmpdir()]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("has no overlays/environments.yaml");
  });
});
