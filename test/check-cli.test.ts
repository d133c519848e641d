// `pnpm check`, `pnpm generate` and `pnpm render` end to end, as a user runs them, on temp copies
// of this repository broken in the ways the rules exist for.
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { parseYamlStream } from "../tools/core/yaml.ts";
import { createTestRepo, type TestRepo } from "./support/repo.ts";
import type { Finding } from "../tools/rules/types.ts";

const exec = promisify(execFile);
let repo: TestRepo;

beforeAll(async () => {
  repo = await createTestRepo();
});
afterAll(async () => {
  await repo.cleanup();
});

/** Applies a change, runs the CLI, restores the committed tree. */
async function withChange(files: Record<string, (text: string) => string>, args: string[], env: NodeJS.ProcessEnv = {}) {
  for (const [path, edit] of Object.entries(files)) await repo.write(path, edit(await repo.read(path)));
  try {
    return await repo.cli(args, env);
  } finally {
    await repo.git("checkout", "-q", "--", ".");
  }
}

/** A finding as `check --json` prints it (the tools' own type). */
type JsonFinding = Finding;

describe("pnpm check", () => {
  it("passes on the repository, exit 0", async () => {
    const r = await repo.cli(["check"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("no findings");
  });

  it("names the base file, line and path of a hook spelled presync, in text, JSON and annotations", async () => {
    const edit = { "base/app/migrate-job.yaml": (t: string) => t.replace("argocd.argoproj.io/hook: PreSync", "argocd.argoproj.io/hook: presync") };
    const text = await withChange(edit, ["check"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/base\/app\/migrate-job\.yaml:\d+: argocd\/hook: \[dev\] Job\/ringlet-migrate metadata\.annotations\["argocd\.argoproj\.io\/hook"\]: "presync" is not a hook phase/);

    const json = await withChange(edit, ["check", "--json"]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { ok: boolean; count: number; findings: JsonFinding[] };
    expect(report.ok).toBe(false);
    const hooks = report.findings.filter((f) => f.rule === "argocd/hook");
    // In promotion order.
    expect(hooks.map((f) => f.env)).toEqual(["dev", "staging", "prod"]);
    const lines = (await repo.read("base/app/migrate-job.yaml")).split("\n");
    const annotationLine = lines.findIndex((l) => l.includes("argocd.argoproj.io/hook: PreSync")) + 1;
    for (const f of hooks) expect(f).toMatchObject({ file: "base/app/migrate-job.yaml", line: annotationLine, object: "Job/ringlet-migrate" });

    const actions = await withChange(edit, ["check"], { GITHUB_ACTIONS: "true" });
    expect(actions.stdout).toContain(`::error file=base/app/migrate-job.yaml,line=${annotationLine},title=argocd/hook::[dev] Job/ringlet-migrate`);
  });

  it("catches a typo the schema packages accept (replicaz), at its line in the base", async () => {
    const r = await withChange({ "base/app/beat-deployment.yaml": (t) => t.replace("  replicas: 1\n", "  replicaz: 1\n") }, ["check", "--json"]);
    expect(r.code).toBe(1);
    const findings = (JSON.parse(r.stdout) as { findings: JsonFinding[] }).findings;
    const typo = findings.filter((f) => f.rule === "schema/unknown-field");
    expect(typo.map((f) => [f.file, f.path, f.env])).toEqual([
      ["base/app/beat-deployment.yaml", "spec.replicaz", "dev"],
      ["base/app/beat-deployment.yaml", "spec.replicaz", "staging"],
      ["base/app/beat-deployment.yaml", "spec.replicaz", "prod"],
    ]);
    const line = (await repo.read("base/app/beat-deployment.yaml")).split("\n").findIndex((l) => l === "  replicas: 1") + 1;
    expect(typo[0]!.line).toBe(line);
    // Without replicas the singleton rule fires too: one mistake, every consequence listed at once.
    expect(findings.some((f) => f.rule === "policy/singleton" && f.path === "spec.replicas")).toBe(true);
  });

  it("reports drift from the spec with a diff, and generate repairs it", async () => {
    await repo.write("overlays/staging/replicas.yaml", (await repo.read("overlays/staging/replicas.yaml")).replace("maxReplicas: 4", "maxReplicas: 40"));
    try {
      const r = await repo.cli(["check"]);
      expect(r.code).toBe(1);
      // The annotation points at the first changed line (maxReplicas of the first document).
      const line = (await repo.read("overlays/staging/replicas.yaml")).split("\n").indexOf("  maxReplicas: 40") + 1;
      expect(r.stdout).toContain(`overlays/staging/replicas.yaml:${line}: drift/generated`);
      expect(r.stdout).toContain("-  maxReplicas: 40");
      expect(r.stdout).toContain("+  maxReplicas: 4");
      const gen = await repo.cli(["generate"]);
      expect(gen.code).toBe(0);
      expect(gen.stdout).toContain("updated overlays/staging/replicas.yaml");
      expect(await repo.git("status", "--porcelain")).toBe("");
    } finally {
      await repo.git("checkout", "-q", "--", ".");
    }
  });

  it("finds a patch whose target matches nothing (kustomize skips it without a word)", async () => {
    const r = await withChange({ "overlays/dev/kustomization.yaml": (t) => t.replace("      name: ringlet-web\n", "      name: ringlet-webapp\n") }, ["check", "--json"]);
    expect(r.code).toBe(1);
    const findings = (JSON.parse(r.stdout) as { findings: JsonFinding[] }).findings;
    expect(findings.filter((f) => f.rule === "patches/unmatched-target").map((f) => [f.file, f.path])).toEqual([["overlays/dev/kustomization.yaml", "patches[0].target"]]);
  });

  it("reports an overlay that does not build, with kustomize's message", async () => {
    const r = await withChange({ "overlays/prod/data/kustomization.yaml": (t) => t.replace("../../../base/data", "../../../base/dta") }, ["check"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/overlays\/prod\/data\/kustomization\.yaml: render\/kustomize: \[prod\]: kustomize build overlays\/prod\/data failed/);
  });

  it("lists every spec problem at once with its path and rule, and exits 1", async () => {
    const r = await withChange(
      {
        "overlays/environments.yaml": (t) =>
          t.replace("replicas: { min: 3, max: 10 }", "replicas: { min: 12, max: 10 }").replace("host: staging.ringlet.example.com", "host: Staging_Host"),
      },
      ["check"],
    );
    expect(r.code).toBe(1);
    const specLines = (await repo.read("overlays/environments.yaml")).split("\n");
    // Points at the "replicas:" key under environments.prod.components.web.
    const prodAt = specLines.findIndex((l) => l === "  prod:");
    const replicasLine = specLines.findIndex((l, i) => i > prodAt && l.includes("replicas: { min: 3, max: 10 }")) + 1;
    expect(r.stdout).toContain(`overlays/environments.yaml:${replicasLine}: spec/invalid: environments.prod.components.web.replicas: min 12 is above max 10`);
    expect(r.stdout).toContain("environments.staging.host: must be a DNS name");
  });

  it("reports a hold on an environment or image that does not exist, with its line", async () => {
    await repo.write("overlays/holds.yaml", "holds:\n  - environment: prod\n    reason: fine\n  - environment: qa\n    image: nginx\n    reason: typo\n");
    try {
      const r = await repo.cli(["check"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('overlays/holds.yaml:4: holds/invalid: holds[1].environment: unknown environment "qa"; environments: dev, staging, prod');
      expect(r.stdout).toContain('overlays/holds.yaml:5: holds/invalid: holds[1].image: unknown image "nginx"');
      expect(r.stdout).toContain("2 findings");
    } finally {
      await rm(join(repo.root, "overlays/holds.yaml"));
    }
  });
});

describe("pnpm generate", () => {
  it("derives the stable ConfigMap's host settings from each environment's host, and refuses a template without {host}", async () => {
    try {
      await repo.write("overlays/environments.yaml", (await repo.read("overlays/environments.yaml")).replace("host: staging.ringlet.example.com", "host: qa.ringlet.example.com"));
      const gen = await repo.cli(["generate"]);
      expect(gen.code).toBe(0);
      const patch = await repo.read("overlays/staging/data/host-settings.yaml");
      expect(patch).toContain("  CSRF_TRUSTED_ORIGINS: https://qa.ringlet.example.com\n");
      expect(patch).toContain("  DJANGO_ALLOWED_HOSTS: qa.ringlet.example.com,localhost\n");
      // The migration hook reads the stable ConfigMap: the rendered data layer carries the new host.
      const render = await repo.cli(["render", "staging", "--data"]);
      expect(render.stdout).toContain("CSRF_TRUSTED_ORIGINS: https://qa.ringlet.example.com");
      expect((await repo.cli(["check"])).code).toBe(0);
    } finally {
      await repo.git("checkout", "-q", "--", ".");
    }
    const bad = await withChange({ "overlays/environments.yaml": (t) => t.replace('CSRF_TRUSTED_ORIGINS: "https://{host}"', 'CSRF_TRUSTED_ORIGINS: "https://example.com"') }, ["generate"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toContain('connection.hostSettings.CSRF_TRUSTED_ORIGINS: must contain "{host}"');
    expect(await repo.git("status", "--porcelain")).toBe("");
  });

  it("is idempotent on the repository: nothing changes", async () => {
    const r = await repo.cli(["generate"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("everything is up to date");
    expect(await repo.git("status", "--porcelain")).toBe("");
  });

  it("keeps the image tags bump-image set", async () => {
    const bumped = await repo.cli(["bump-image", "v4.5.6"]);
    expect(bumped.code, bumped.stderr).toBe(0);
    try {
      const r = await repo.cli(["generate"]);
      expect(r.code).toBe(0);
      expect(await repo.read("overlays/dev/kustomization.yaml")).toContain("newTag: v4.5.6");
      expect(await repo.git("status", "--porcelain")).toBe("");
    } finally {
      await repo.git("checkout", "-q", "main");
    }
  });

  it("refuses an invalid spec and writes nothing", async () => {
    const before = await repo.snapshot();
    const broken = (await repo.read("overlays/environments.yaml")).replace("sync: manual", "sync: sometimes");
    await repo.write("overlays/environments.yaml", broken);
    try {
      const mid = await repo.snapshot();
      const r = await repo.cli(["generate"]);
      expect(r.code).toBe(1);
      // file:line: path, the line being the one the bad value is on.
      const line = broken.split("\n").findIndex((l) => l.includes("sync: sometimes")) + 1;
      expect(r.stderr).toContain(`overlays/environments.yaml:${line}: environments.prod.sync:`);
      expect(await repo.snapshot()).toEqual(mid);
    } finally {
      await repo.git("checkout", "-q", "--", ".");
    }
    expect(await repo.snapshot()).toEqual(before);
  });

  it("--dry-run shows the diff and writes nothing", async () => {
    await repo.write("overlays/environments.yaml", (await repo.read("overlays/environments.yaml")).replace("replicas: { min: 2, max: 4 }", "replicas: { min: 2, max: 5 }"));
    try {
      const mid = await repo.snapshot();
      const r = await repo.cli(["generate", "--dry-run"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("+++ b/overlays/staging/replicas.yaml");
      expect(r.stdout).toContain("+  maxReplicas: 5");
      expect(await repo.snapshot()).toEqual(mid);
    } finally {
      await repo.git("checkout", "-q", "--", ".");
    }
  });
});

describe("generate and check after changes of the spec", () => {
  it("keeps the quotes a tag like `yes` needs (kustomize reads YAML 1.1: unquoted, it is a boolean)", async () => {
    const bumped = await repo.cli(["bump-image", "yes"]);
    expect(bumped.code, bumped.stderr).toBe(0);
    try {
      expect(await repo.read("overlays/dev/kustomization.yaml")).toContain('    newTag: "yes"\n');
      const gen = await repo.cli(["generate"]);
      expect(gen.stdout).toContain("everything is up to date");
      const { stdout } = await exec(join(TOOLS_ROOT, ".tools", "kubectl"), ["kustomize", join(repo.root, "overlays", "dev")], { maxBuffer: 32 * 1024 * 1024 });
      expect(stdout).toContain("image: ghcr.io/ringlet/ringlet:yes\n");
    } finally {
      await repo.git("checkout", "-q", "main");
    }
  });

  it("names the spec path of a component whose workload the base does not have", async () => {
    const r = await withChange({ "overlays/environments.yaml": (t) => t.replace("workload: { kind: Deployment, name: ringlet-worker }", "workload: { kind: Deployment, name: ringlet-wrkr }") }, ["check"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/overlays\/environments\.yaml:\d+: spec\/invalid: components\.worker\.workload: no Deployment named ringlet-wrkr in the base \(Deployments: [^)]*ringlet-worker/);
  });

  it("starts a new stage at the tag of the stage before it, and removes its files when it goes", async () => {
    // dev and staging have moved on to v1.1.0; prod is still on v1.0.0.
    for (const file of ["overlays/dev/kustomization.yaml", "overlays/staging/kustomization.yaml"]) {
      await repo.write(file, (await repo.read(file)).replace("newTag: v1.0.0", "newTag: v1.1.0"));
    }
    const spec = await repo.read("overlays/environments.yaml");
    const qa = "  qa:\n    namespace: ringlet-qa\n    host: qa.ringlet.example.com\n    sync: auto\n\n";
    await repo.write("overlays/environments.yaml", spec.replace("  prod:\n", `${qa}  prod:\n`));
    try {
      expect((await repo.cli(["generate"])).code).toBe(0);
      expect(await repo.read("overlays/qa/kustomization.yaml")).toContain("    newTag: v1.1.0\n");
      const check = await repo.cli(["check"]);
      expect(check.code, check.stdout).toBe(0);
      await repo.write("overlays/environments.yaml", spec);
      expect((await repo.cli(["generate"])).code).toBe(0);
      expect(await repo.git("ls-files", "--others", "--", "overlays/qa", "argocd/qa.yaml")).toBe("");
      expect((await repo.cli(["check"])).code).toBe(0);
    } finally {
      await repo.git("checkout", "-q", "--", ".");
      await repo.git("clean", "-qfd", "--", "overlays", "argocd");
    }
  });
});

describe("a managed Redis", () => {
  it("replaces the in-cluster Redis servers of an environment: URLs from the spec, the password from an ExternalSecret, every rule quiet", async () => {
    const spec = await repo.read("overlays/environments.yaml");
    const managed = spec.replace(
      "  staging:\n    namespace: ringlet-staging\n    host: staging.ringlet.example.com\n    sync: auto\n",
      "  staging:\n    namespace: ringlet-staging\n    host: staging.ringlet.example.com\n    sync: auto\n    data:\n      redis:\n        mode: managed\n        host: staging.redis.example.internal\n",
    );
    expect(managed).not.toBe(spec);
    await repo.write("overlays/environments.yaml", managed);
    try {
      expect((await repo.cli(["generate"])).code).toBe(0);
      const check = await repo.cli(["check"]);
      expect(check.code, check.stdout).toBe(0);
      const rendered = await repo.cli(["render", "staging", "--data"]);
      expect(rendered.code).toBe(0);
      const objects = parseYamlStream(rendered.stdout, "render");
      const names = objects.map((o) => `${o.kind}/${o.metadata?.name}`);
      // The in-cluster servers are gone; the database stays.
      expect(names.filter((n) => /redis/.test(n)).sort()).toEqual(["ExternalSecret/ringlet-redis", "NetworkPolicy/ringlet-managed-redis"]);
      expect(names).toContain("StatefulSet/ringlet-postgres");
      const connection = objects.find((o) => o.kind === "ConfigMap")!.data as Record<string, string>;
      // Each URL key of the spec, on its database number, over TLS on the default port.
      expect({ cache: connection.REDIS_URL, broker: connection.CELERY_BROKER_URL }).toEqual({
        cache: "rediss://staging.redis.example.internal:6380/0",
        broker: "rediss://staging.redis.example.internal:6380/1",
      });
      const secret = objects.find((o) => o.kind === "ExternalSecret" && o.metadata?.name === "ringlet-redis")!;
      expect((secret.spec as { data: { remoteRef: { key: string } }[] }).data[0]!.remoteRef.key).toBe("ringlet/staging/redis");
      // A setting the URL templates use, given neither by the environment nor as a default: the spec says which.
      await repo.write("overlays/environments.yaml", managed.replace(/\n        scheme: rediss\n/, "\n"));
      const invalid = await repo.cli(["check"]);
      expect(invalid.code).toBe(1);
      expect(invalid.stdout).toContain('environments.staging.data.redis: REDIS_URL needs "scheme": set it here or in data.redis.managed.defaults');
    } finally {
      await repo.git("checkout", "-q", "--", ".");
      await repo.git("clean", "-qfd", "--", "overlays", "argocd");
    }
  }, 180_000);
});

describe("pnpm render", () => {
  it("prints exactly the bytes kustomize prints", async () => {
    const r = await repo.cli(["render", "staging"]);
    expect(r.code).toBe(0);
    const { stdout } = await exec(join(TOOLS_ROOT, ".tools", "kubectl"), ["kustomize", join(repo.root, "overlays", "staging")], { maxBuffer: 32 * 1024 * 1024 });
    expect(r.stdout).toBe(stdout);
  });
  it("rejects an unknown environment as a usage error", async () => {
    const r = await repo.cli(["render", "qa"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown environment "qa"; environments: dev, staging, prod');
  });
});

describe("the CLI", () => {
  it("has --help on every command, exit 0", async () => {
    for (const command of ["check", "generate", "render", "diff", "bump-image", "promote"]) {
      const r = await repo.cli([command, "--help"]);
      expect(r.code, command).toBe(0);
      expect(r.stdout, command).toMatch(new RegExp(`^Usage: pnpm ${command}`));
    }
  });
  it("exits 2 on an unknown command or flag", async () => {
    expect((await repo.cli(["deploy"])).code).toBe(2);
    const r = await repo.cli(["check", "--jsn"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--jsn");
  });
});
