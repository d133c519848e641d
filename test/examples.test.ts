// The worked examples (issue 10.9): examples/dreamseed, examples/package-analysis and
// examples/rateguard are repositories of their own (base, spec, generated overlays and Argo CD
// applications). The real CLI checks each clean; a temp copy broken the way a user would break it
// gets the named finding; bump-image and promote move one image of a temp git copy with a
// one-line edit. Expected values are written out from the examples' files, never copied from the
// tools' output.
import { execFile } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import type { KubeObject } from "../tools/core/yaml.ts";
import { declaredHosts, hostRules } from "../tools/rules/hosts.ts";
import type { Environment } from "../tools/spec/schema.ts";
import type { RuleContext } from "../tools/rules/types.ts";
import { cleanEnv, createTestRepo, TSX_LOADER, type TestRepo } from "./support/repo.ts";
import type { Finding } from "../tools/rules/types.ts";

const exec = promisify(execFile);
const EXAMPLES = ["dreamseed", "package-analysis", "rateguard"] as const;

type Result = { code: number; stdout: string; stderr: string };
/** A finding as `check --json` prints it (the tools' own type). */
type JsonFinding = Finding;

/** The CLI as `pnpm <command> --root examples/<name>` runs it from this repository's root. */
function cli(args: string[]): Promise<Result> {
  return exec(process.execPath, ["--import", TSX_LOADER, "tools/cli.ts", ...args], { cwd: TOOLS_ROOT, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
  );
}

async function findings(repo: TestRepo): Promise<{ code: number; findings: JsonFinding[]; raw: string }> {
  const r = await repo.cli(["check", "--json"]);
  const raw = r.stdout + r.stderr;
  return { code: r.code, findings: r.stdout.trim().startsWith("{") ? (JSON.parse(r.stdout) as { findings: JsonFinding[] }).findings : [], raw };
}

async function withRepo<T>(name: string, fn: (repo: TestRepo) => Promise<T>): Promise<T> {
  const repo = await createTestRepo({ fixture: join(TOOLS_ROOT, "examples", name) });
  try {
    return await fn(repo);
  } finally {
    await repo.cleanup();
  }
}

function replaceOnce(text: string, from: string, to: string): string {
  expect(text.split(from).length - 1, `exactly one "${from}"`).toBe(1);
  return text.replace(from, to);
}

describe("the worked examples are clean", () => {
  for (const name of EXAMPLES) {
    it(`${name}: check --root examples/${name} reports nothing, generate is up to date`, { timeout: 120_000 }, async () => {
      const check = await cli(["check", "--root", `examples/${name}`, "--json"]);
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect((JSON.parse(check.stdout) as { findings: JsonFinding[] }).findings).toEqual([]);
      const generate = await cli(["generate", "--root", `examples/${name}`, "--dry-run"]);
      expect(generate.code, generate.stdout + generate.stderr).toBe(0);
      expect(generate.stdout + generate.stderr).toContain("everything is up to date");
    });
  }
});

describe("a defect injected into an example is caught by name", () => {
  it("dreamseed: a Rollout whose previewService selects no pod of it (a selector typo)", { timeout: 120_000 }, async () => {
    await withRepo("dreamseed", async (repo) => {
      const file = "base/app/payment-service.yaml";
      const text = await repo.read(file);
      // The preview Service is the second Service of the file; its selector gains a typo.
      const at = text.indexOf("name: payment-service-preview");
      await repo.write(file, text.slice(0, at) + replaceOnce(text.slice(at), "  selector:\n    app: payment-service\n", "  selector:\n    app: payment-service-preveiw\n"));
      const { code, findings: found, raw } = await findings(repo);
      expect(code, raw).toBe(1);
      const rollout = found.filter((f) => f.rule === "custom-resources/rollout");
      expect(rollout.map((f) => [f.env, f.object, f.path])).toEqual([
        ["staging", "Rollout/payment-service", "spec.strategy.blueGreen.previewService"],
        ["production", "Rollout/payment-service", "spec.strategy.blueGreen.previewService"],
      ]);
      expect(rollout[0]!.message).toContain("payment-service-preview does not select this Rollout's pods");
      expect(rollout[0]!.file).toBe("base/app/payment-service.yaml");
    });
  });

  it("dreamseed: without rollout-transform.yaml, the Rollout reads the unhashed service-config, which does not exist", { timeout: 120_000 }, async () => {
    await withRepo("dreamseed", async (repo) => {
      const file = "base/app/kustomization.yaml";
      await repo.write(file, replaceOnce(await repo.read(file), "configurations:\n  - rollout-transform.yaml\n", ""));
      const { code, findings: found, raw } = await findings(repo);
      expect(code, raw).toBe(1);
      const config = found.filter((f) => f.rule === "references/config" && f.object === "Rollout/payment-service");
      expect(config.map((f) => f.env)).toEqual(["staging", "production"]);
      expect(config[0]!.message).toContain("ConfigMap service-config is created by neither Application");
    });
  });

  it("package-analysis: an HPA added for the workers that KEDA's ScaledObject already scales", { timeout: 120_000 }, async () => {
    await withRepo("package-analysis", async (repo) => {
      await repo.write(
        "base/app/worker-hpa.yaml",
        [
          "apiVersion: autoscaling/v2",
          "kind: HorizontalPodAutoscaler",
          "metadata:",
          "  name: analysis-worker-cpu",
          "spec:",
          "  scaleTargetRef:",
          "    apiVersion: apps/v1",
          "    kind: Deployment",
          "    name: analysis-worker",
          "  minReplicas: 1",
          "  maxReplicas: 50",
          "  metrics:",
          "    - type: Resource",
          "      resource:",
          "        name: cpu",
          "        target:",
          "          type: Utilization",
          "          averageUtilization: 80",
          "",
        ].join("\n"),
      );
      const file = "base/app/kustomization.yaml";
      await repo.write(file, replaceOnce(await repo.read(file), "  - worker-scaledobject.yaml\n", "  - worker-scaledobject.yaml\n  - worker-hpa.yaml\n"));
      const { code, findings: found, raw } = await findings(repo);
      expect(code, raw).toBe(1);
      const scaled = found.filter((f) => f.rule === "custom-resources/scaled-object");
      expect(scaled.map((f) => [f.env, f.object, f.path])).toEqual([
        ["dev", "ScaledObject/analysis-worker", "spec.scaleTargetRef"],
        ["staging", "ScaledObject/analysis-worker", "spec.scaleTargetRef"],
        ["prod", "ScaledObject/analysis-worker", "spec.scaleTargetRef"],
      ]);
      expect(scaled[0]!.message).toContain("Deployment/analysis-worker is also scaled by HorizontalPodAutoscaler/analysis-worker-cpu");
    });
  });

  it("rateguard: a host added to the base Ingress that staging does not rewrite renders production's host in staging", { timeout: 120_000 }, async () => {
    await withRepo("rateguard", async (repo) => {
      const file = "base/app/ingress.yaml";
      let text = await repo.read(file);
      text = replaceOnce(text, "        - api.rateguard.example.com\n      secretName", "        - api.rateguard.example.com\n        - status.rateguard.example.com\n      secretName");
      text += ["    - host: status.rateguard.example.com", "      http:", "        paths:", "          - path: /", "            pathType: Prefix", "            backend:", "              service:", "                name: web-service", "                port:", "                  name: http", ""].join("\n");
      await repo.write(file, text);
      const { code, findings: found, raw } = await findings(repo);
      expect(code, raw).toBe(1);
      const staging = found.filter((f) => f.env === "staging" && f.rule.startsWith("hosts/"));
      expect(staging.map((f) => [f.rule, f.file, f.path])).toEqual([
        ["hosts/declared", "base/app/ingress.yaml", "spec.tls[0].hosts[2]"],
        ["hosts/declared", "base/app/ingress.yaml", "spec.rules[2].host"],
        ["hosts/shared", "base/app/ingress.yaml", "spec.rules[2].host"],
      ]);
      expect(staging[0]!.message).toContain("status.rateguard.example.com is not a host of staging (staging.rateguard.example.com, api.staging.rateguard.example.com)");
      // And the spec is told what is missing (generate refuses the same way).
      const spec = found.find((f) => f.rule === "spec/invalid" && f.path === "environments.staging.hosts");
      expect(spec?.message, raw).toContain("the base's host status.rateguard.example.com has no entry");
    });
  });

  it("rateguard: production's API host copied into staging's spec is refused by generate and reported by check", { timeout: 180_000 }, async () => {
    await withRepo("rateguard", async (repo) => {
      const file = "overlays/environments.yaml";
      await repo.write(file, replaceOnce(await repo.read(file), "api.rateguard.example.com: api.staging.rateguard.example.com", "api.rateguard.example.com: api.rateguard.example.com"));
      const before = await repo.snapshot();
      const generate = await repo.cli(["generate"]);
      expect(generate.code).toBe(1);
      expect(generate.stderr).toContain("environments.prod.hosts: host api.rateguard.example.com is already used by staging");
      expect(await repo.snapshot()).toEqual(before);
      const { code, findings: found, raw } = await findings(repo);
      expect(code, raw).toBe(1);
      expect(found.some((f) => f.rule === "spec/invalid" && f.path === "environments.prod.hosts" && f.message.includes("already used by staging")), raw).toBe(true);
    });
  });
});

describe("bump-image and promote on the examples", () => {
  it("dreamseed: payment-service moves alone, staging then production, one line each", { timeout: 240_000 }, async () => {
    await withRepo("dreamseed", async (repo) => {
      const STAGING = "overlays/staging/kustomization.yaml";
      const PRODUCTION = "overlays/production/kustomization.yaml";
      const entry = "  - name: gcr.io/dreamseed/payment-service\n    newTag: v1.0.0\n";
      const moved = "  - name: gcr.io/dreamseed/payment-service\n    newTag: v1.1.0\n";
      const stagingBefore = await repo.read(STAGING);
      const productionBefore = await repo.read(PRODUCTION);

      const bump = await repo.cli(["bump-image", "v1.1.0", "--env", "staging", "--image", "gcr.io/dreamseed/payment-service"]);
      expect(bump.code, bump.stdout + bump.stderr).toBe(0);
      expect(await repo.read(STAGING)).toBe(replaceOnce(stagingBefore, entry, moved));
      expect((await repo.git("diff", "--name-only", "main", "HEAD")).trim()).toBe(STAGING);
      const branch = (await repo.git("branch", "--show-current")).trim();
      expect(branch).toMatch(/^deploy\/staging\/.*v1\.1\.0$/);

      await repo.git("checkout", "--quiet", "main");
      await repo.git("merge", "--quiet", "--ff-only", branch);
      // production is gated by a 24 h soak: passed here with a recorded reason.
      const promote = await repo.cli(["promote", "staging", "production", "--image", "gcr.io/dreamseed/payment-service", "--override", "soak=worked-example test"]);
      expect(promote.code, promote.stdout + promote.stderr).toBe(0);
      expect(await repo.read(PRODUCTION)).toBe(replaceOnce(productionBefore, entry, moved));
      expect((await repo.git("diff", "--name-only", "main", "HEAD")).trim()).toBe(PRODUCTION);
    });
  });

  it("package-analysis: the worker image moves in dev and is promoted to staging, web untouched", { timeout: 240_000 }, async () => {
    await withRepo("package-analysis", async (repo) => {
      const DEV = "overlays/dev/kustomization.yaml";
      const STAGING = "overlays/staging/kustomization.yaml";
      const entry = "  - name: registry.digitalocean.com/package-analysis/worker\n    newTag: v1.0.0\n";
      const moved = "  - name: registry.digitalocean.com/package-analysis/worker\n    newTag: v2.3.0\n";
      const devBefore = await repo.read(DEV);
      const stagingBefore = await repo.read(STAGING);

      const bump = await repo.cli(["bump-image", "v2.3.0", "--image", "registry.digitalocean.com/package-analysis/worker"]);
      expect(bump.code, bump.stdout + bump.stderr).toBe(0);
      expect(await repo.read(DEV)).toBe(replaceOnce(devBefore, entry, moved));
      expect((await repo.git("diff", "--name-only", "main", "HEAD")).trim()).toBe(DEV);
      const branch = (await repo.git("branch", "--show-current")).trim();

      await repo.git("checkout", "--quiet", "main");
      await repo.git("merge", "--quiet", "--ff-only", branch);
      const promote = await repo.cli(["promote", "dev", "staging", "--image", "registry.digitalocean.com/package-analysis/worker"]);
      expect(promote.code, promote.stdout + promote.stderr).toBe(0);
      expect(await repo.read(STAGING)).toBe(replaceOnce(stagingBefore, entry, moved));
      expect((await repo.git("diff", "--name-only", "main", "HEAD")).trim()).toBe(STAGING);
    });
  });
});

describe("hosts/shared", () => {
  const ingress = (name: string, hosts: string[]): KubeObject => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name },
    spec: { tls: [{ hosts, secretName: `${name}-tls` }], rules: hosts.map((host) => ({ host })) },
  });
  const context = (envs: Record<string, KubeObject[]>): RuleContext =>
    ({
      environments: Object.entries(envs).map(([env, objects]) => ({ env, layers: { app: objects.map((object) => ({ env, layer: "app", object, source: "base/app/ingress.yaml" })) } })),
    }) as unknown as RuleContext;

  it("fires in both environments when staging serves production's API host", () => {
    const found = hostRules.shared!(
      context({
        staging: [ingress("edge", ["staging.example.com", "api.example.com"])],
        prod: [ingress("edge", ["example.com", "api.example.com"])],
      }),
    );
    expect(found.map((f) => [f.rule, f.env, f.object, f.path])).toEqual([
      ["hosts/shared", "staging", "Ingress/edge", "spec.rules[1].host"],
      ["hosts/shared", "prod", "Ingress/edge", "spec.rules[1].host"],
    ]);
    expect(found[0]!.message).toBe("api.example.com is also served by prod: DNS sends a host to one environment, so give each environment hosts of its own");
  });

  it("stays quiet when each environment has hosts of its own, and when two Ingresses of one environment share a host", () => {
    expect(
      hostRules.shared!(
        context({
          staging: [ingress("edge", ["staging.example.com", "api.staging.example.com"]), ingress("admin", ["staging.example.com"])],
          prod: [ingress("edge", ["example.com", "api.example.com"])],
        }),
      ),
    ).toEqual([]);
  });
});

describe("hosts/declared with spec v2's hosts map", () => {
  it("an environment declares the values of its map (its own hosts), not the base's keys", () => {
    const env = { hosts: { "example.com": "staging.example.com", "api.example.com": "api.staging.example.com" } } as unknown as Environment;
    expect(declaredHosts(env)).toEqual(["staging.example.com", "api.staging.example.com"]);
  });
});

describe("a GitOps root below the git top level (an example inside a monorepo)", () => {
  it("bump-image, status, history and diff read the root's files at a revision, not the top level's", { timeout: 240_000 }, async () => {
    // The temp repository holds examples/rateguard as a folder, the way this repository does.
    const layout = await mkdtemp(join(tmpdir(), "gitops-monorepo-"));
    await cp(join(TOOLS_ROOT, "examples", "rateguard"), join(layout, "examples", "rateguard"), { recursive: true });
    const repo = await createTestRepo({ fixture: layout });
    try {
      const root = join(repo.root, "examples", "rateguard");
      const run = (args: string[]): Promise<Result> =>
        exec(process.execPath, ["--import", TSX_LOADER, join(TOOLS_ROOT, "tools", "cli.ts"), ...args, "--root", root], { cwd: repo.root, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 }).then(
          (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
          (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
        );
      const bump = await run(["bump-image", "v1.2.0", "--image", "ghcr.io/rateguard/proxy"]);
      expect(bump.code, bump.stdout + bump.stderr).toBe(0);
      expect((await repo.git("diff", "--name-only", "main", "HEAD")).trim()).toBe("examples/rateguard/overlays/dev/kustomization.yaml");
      const branch = (await repo.git("branch", "--show-current")).trim();
      await repo.git("checkout", "--quiet", "main");
      await repo.git("merge", "--quiet", "--ff-only", branch);

      const status = await run(["status", "--json"]);
      expect(status.code, status.stdout + status.stderr).toBe(0);
      const envs = (JSON.parse(status.stdout) as { environments: { name: string; images: { image: string; tag: string }[] }[] }).environments;
      expect(envs.map((e) => e.name)).toEqual(["dev", "staging", "prod"]);
      expect(envs[0]!.images.map((i) => `${i.image}:${i.tag}`)).toEqual(["ghcr.io/rateguard/proxy:v1.2.0", "ghcr.io/rateguard/web:v1.0.0", "ghcr.io/rateguard/analytics:v1.0.0", "ghcr.io/rateguard/alerts:v1.0.0"]);

      const history = await run(["history", "dev"]);
      expect(history.code, history.stdout + history.stderr).toBe(0);
      expect(history.stdout).toMatch(/current +ghcr\.io\/rateguard\/proxy +v1\.2\.0/);
      expect(history.stdout).toMatch(/previous +ghcr\.io\/rateguard\/proxy +v1\.0\.0/);

      const diff = await run(["diff", "--base", "HEAD~1"]);
      expect(diff.code, diff.stdout + diff.stderr).toBe(0);
      // One object changes: the proxy Deployment's image.
      expect(diff.stdout).toContain("dev: 0 added, 1 changed, 0 removed (+1 -1 lines)");
      expect(diff.stdout).toContain("staging: no changes");
      expect(diff.stdout).toContain("prod: no changes");
    } finally {
      await repo.cleanup();
      await rm(layout, { recursive: true, force: true });
    }
  });
});
