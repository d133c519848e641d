import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { FIXTURE_ROOT } from "./support/repo.ts";
import { parseYamlStream, type KubeObject } from "../tools/core/yaml.ts";
import { schemaRule, validateStrict, type SchemaProblem } from "../tools/rules/schema.ts";
import type { RenderedObject, RuleContext } from "../tools/rules/types.ts";

const execFileAsync = promisify(execFile);

/** The real rendered base, through the real kustomize (kubectl kustomize from .tools/). */
async function render(dir: string): Promise<KubeObject[]> {
  const { stdout } = await execFileAsync(join(TOOLS_ROOT, ".tools", "kubectl"), ["kustomize", join(FIXTURE_ROOT, dir)], { cwd: FIXTURE_ROOT, maxBuffer: 64 * 1024 * 1024 });
  return parseYamlStream(stdout, `${dir} (rendered)`);
}

let app: KubeObject[] = [];
let data: KubeObject[] = [];

beforeAll(async () => {
  [app, data] = await Promise.all([render("base/app"), render("base/data")]);
});

function find(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`${kind}/${name} is not in the rendered output`);
  return structuredClone(found);
}

// Fixtures are edited through this loose view; the objects stay plain parsed YAML.
type Loose = Record<string, any>;

function webDeployment(): Loose {
  return find(app, "Deployment", "ringlet-web");
}

function pathsAndReasons(problems: SchemaProblem[]): { path: string; reason: string }[] {
  return problems.map(({ path, reason }) => ({ path, reason }));
}

function application(): Loose {
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Application",
    metadata: {
      name: "ringlet-dev",
      namespace: "argocd",
      labels: { "app.kubernetes.io/part-of": "ringlet", "ringlet.environment": "dev" },
      annotations: { "argocd.argoproj.io/sync-wave": "0" },
      finalizers: ["resources-finalizer.argocd.argoproj.io"],
    },
    spec: {
      project: "ringlet",
      source: { repoURL: "https://github.com/ringlet/ringlet-gitops.git", targetRevision: "main", path: "overlays/dev" },
      destination: { server: "https://kubernetes.default.svc", namespace: "ringlet-dev" },
      revisionHistoryLimit: 10,
      syncPolicy: {
        automated: { prune: true, selfHeal: true },
        syncOptions: ["CreateNamespace=true", "PruneLast=true"],
        retry: { limit: 5, backoff: { duration: "10s", factor: 2, maxDuration: "5m" } },
      },
    },
  };
}

function appProject(): Loose {
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AppProject",
    metadata: { name: "ringlet", namespace: "argocd" },
    spec: {
      description: "ringlet: every environment",
      sourceRepos: ["https://github.com/ringlet/ringlet-gitops.git"],
      destinations: [{ server: "https://kubernetes.default.svc", namespace: "ringlet-dev" }],
      clusterResourceWhitelist: [{ group: "", kind: "Namespace" }],
      namespaceResourceWhitelist: [{ group: "apps", kind: "Deployment" }],
      orphanedResources: { warn: true },
    },
  };
}

function externalSecret(): Loose {
  return find(data, "ExternalSecret", "ringlet-db-credentials");
}

describe("validateStrict on the real rendered base", () => {
  it("renders the kinds this repository deploys", () => {
    const kinds = new Set([...app, ...data].map((o) => o.kind));
    for (const kind of ["Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job", "ConfigMap", "StatefulSet", "PersistentVolumeClaim", "NetworkPolicy", "ExternalSecret"]) {
      expect(kinds, kind).toContain(kind);
    }
  });

  it("finds no problem in base/app or base/data", () => {
    const problems = [...app, ...data].flatMap((o) => validateStrict(o).map((p) => ({ object: `${o.kind}/${o.metadata?.name}`, ...p })));
    expect(problems).toEqual([]);
  });
});

describe("validateStrict catches", () => {
  it("an unknown field in a Deployment spec, with a suggestion", () => {
    const d = webDeployment();
    d.spec.replicaz = 3;
    const problems = validateStrict(d);
    expect(pathsAndReasons(problems)).toEqual([{ path: "spec.replicaz", reason: "unknown-field" }]);
    expect(problems[0]?.message).toBe('unknown field "replicaz"; did you mean "replicas"?');
  });

  it("an unknown field in a container", () => {
    const d = webDeployment();
    d.spec.template.spec.containers[0].imagee = d.spec.template.spec.containers[0].image;
    delete d.spec.template.spec.containers[0].image;
    const problems = validateStrict(d);
    expect(pathsAndReasons(problems)).toEqual([{ path: "spec.template.spec.containers[0].imagee", reason: "unknown-field" }]);
    expect(problems[0]?.message).toContain('unknown field "imagee"');
    expect(problems[0]?.message).toContain('did you mean "image"?');
  });

  it("an unknown field inside metadata", () => {
    const d = webDeployment();
    d.metadata.lables = { team: "web" };
    const problems = validateStrict(d);
    expect(pathsAndReasons(problems)).toEqual([{ path: "metadata.lables", reason: "unknown-field" }]);
    expect(problems[0]?.message).toBe('unknown field "lables"; did you mean "labels"?');
  });

  it("an unknown field in the pod template's metadata and in a list deep down", () => {
    const d = webDeployment();
    d.spec.template.metadata.annotationz = {};
    const at = (d.spec.template.spec.containers[0].env as { valueFrom?: { secretKeyRef?: unknown } }[]).findIndex((e) => e.valueFrom?.secretKeyRef);
    expect(at).toBeGreaterThanOrEqual(0);
    d.spec.template.spec.containers[0].env[at].valueFrom.secretKeyRef.optionall = true;
    expect(pathsAndReasons(validateStrict(d))).toEqual([
      { path: "spec.template.metadata.annotationz", reason: "unknown-field" },
      { path: `spec.template.spec.containers[0].env[${at}].valueFrom.secretKeyRef.optionall`, reason: "unknown-field" },
    ]);
  });

  it("a wrong type", () => {
    const d = webDeployment();
    d.spec.replicas = "three";
    const problems = validateStrict(d);
    expect(pathsAndReasons(problems)).toEqual([{ path: "spec.replicas", reason: "invalid" }]);
    expect(problems[0]?.message).toBe('expected integer, got string "three"');
  });

  it("a missing required field", () => {
    const d = webDeployment();
    delete d.spec.template.spec.containers;
    const problems = validateStrict(d);
    expect(pathsAndReasons(problems)).toEqual([{ path: "spec.template.spec.containers", reason: "invalid" }]);
    expect(problems[0]?.message).toBe('missing required field "containers"');
  });

  it("an enum violation", () => {
    const d = webDeployment();
    d.spec.template.spec.containers[0].imagePullPolicy = "Sometimes";
    const problems = validateStrict(d);
    expect(pathsAndReasons(problems)).toEqual([{ path: "spec.template.spec.containers[0].imagePullPolicy", reason: "invalid" }]);
    expect(problems[0]?.message).toContain('"IfNotPresent"');
  });

  it("an IntOrString and a Quantity of the wrong shape, once each", () => {
    const d = webDeployment();
    d.spec.strategy.rollingUpdate.maxSurge = true;
    d.spec.template.spec.containers[0].resources.limits.memory = "lots";
    const problems = validateStrict(d);
    expect(pathsAndReasons(problems)).toEqual([
      { path: "spec.strategy.rollingUpdate.maxSurge", reason: "invalid" },
      { path: "spec.template.spec.containers[0].resources.limits.memory", reason: "invalid" },
    ]);
    expect(problems[0]?.message).toBe("expected string or integer, got boolean true");
  });

  it("an unknown field in an Application's syncPolicy", () => {
    const a = application();
    a.spec.syncPolicy.automatd = { prune: true };
    const problems = validateStrict(a);
    expect(pathsAndReasons(problems)).toEqual([{ path: "spec.syncPolicy.automatd", reason: "unknown-field" }]);
    expect(problems[0]?.message).toBe('unknown field "automatd"; did you mean "automated"?');
  });

  it("a wrong type in an Application's retry", () => {
    const a = application();
    a.spec.syncPolicy.retry.limit = "5";
    expect(pathsAndReasons(validateStrict(a))).toEqual([{ path: "spec.syncPolicy.retry.limit", reason: "invalid" }]);
  });

  it("unknown fields in an AppProject", () => {
    const p = appProject();
    p.spec.sourceRepoz = ["*"];
    p.spec.destinations[0].namspace = "ringlet-prod";
    const problems = validateStrict(p);
    expect(pathsAndReasons(problems)).toEqual([
      { path: "spec.destinations[0].namspace", reason: "unknown-field" },
      { path: "spec.sourceRepoz", reason: "unknown-field" },
    ]);
    expect(problems[1]?.message).toBe('unknown field "sourceRepoz"; did you mean "sourceRepos"?');
  });

  it("an unknown field in an ExternalSecret's spec.data[0]", () => {
    const e = externalSecret();
    e.spec.data[0].secretkey = e.spec.data[0].secretKey;
    delete e.spec.data[0].secretKey;
    const problems = validateStrict(e);
    // secretKey is also required, so its absence is reported too.
    expect(pathsAndReasons(problems)).toEqual([
      { path: "spec.data[0].secretKey", reason: "invalid" },
      { path: "spec.data[0].secretkey", reason: "unknown-field" },
    ]);
    expect(problems[1]?.message).toBe('unknown field "secretkey"; did you mean "secretKey"?');
  });

  it("an enum violation in an ExternalSecret", () => {
    const e = externalSecret();
    e.spec.target.creationPolicy = "Always";
    expect(pathsAndReasons(validateStrict(e))).toEqual([{ path: "spec.target.creationPolicy", reason: "invalid" }]);
  });

  it("an unknown kind, an unknown apiVersion of a known kind, and a type that is no kind", () => {
    expect(validateStrict({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } })).toEqual([
      { path: "kind", message: "no schema for example.com/v1 Widget", reason: "unknown-kind" },
    ]);
    const wrongVersion = validateStrict({ apiVersion: "apps/v1beta9", kind: "Deployment", metadata: { name: "d" } });
    expect(pathsAndReasons(wrongVersion)).toEqual([{ path: "apiVersion", reason: "unknown-kind" }]);
    expect(wrongVersion[0]?.message).toMatch(/^no schema for apps\/v1beta9 Deployment; Deployment is known as .*\bapps\/v1\b/);
    expect(pathsAndReasons(validateStrict({ apiVersion: "v1", kind: "Container" }))).toEqual([{ path: "kind", reason: "unknown-kind" }]);
    expect(pathsAndReasons(validateStrict({ metadata: { name: "x" } }))).toEqual([{ path: "kind", reason: "unknown-kind" }]);
  });
});

describe("validateStrict stays quiet on", () => {
  it("free-form labels, annotations (kustomize's origin too) and label selectors", () => {
    const d = webDeployment();
    d.metadata.labels = { "anything.example.com/whatever": "x", "ringlet.layer": "app" };
    d.metadata.annotations = { "config.kubernetes.io/origin": "path: base/app/web-deployment.yaml\n", "checksum/config": "abc" };
    d.spec.template.metadata.annotations = { "kubectl.kubernetes.io/default-container": "web" };
    d.spec.selector.matchLabels["extra.example.com/key"] = "v";
    d.spec.template.metadata.labels["extra.example.com/key"] = "v";
    d.spec.template.spec.nodeSelector = { "kubernetes.io/os": "linux" };
    expect(validateStrict(d)).toEqual([]);
  });

  it("ConfigMap data with any keys", () => {
    const cm: Loose = structuredClone([...app, ...data].find((o) => o.kind === "ConfigMap") ?? { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm" } });
    cm.data = { "settings.py": "DEBUG = False\n", ANY_KEY: "1", "dotted.key-name_1": "v" };
    cm.binaryData = { "logo.png": "aGVsbG8=" };
    expect(validateStrict(cm)).toEqual([]);
  });

  it("resources maps with extended resources and numeric quantities", () => {
    const d = webDeployment();
    d.spec.template.spec.containers[0].resources = {
      requests: { cpu: 1, memory: "256Mi", "ephemeral-storage": "1Gi" },
      limits: { cpu: "1500m", memory: "1Gi", "nvidia.com/gpu": 1, "hugepages-2Mi": "64Mi" },
    };
    d.spec.strategy.rollingUpdate = { maxSurge: "25%", maxUnavailable: 0 };
    expect(validateStrict(d)).toEqual([]);
  });

  it("an Application with a full syncPolicy, and free-form helm valuesObject", () => {
    const a = application();
    expect(validateStrict(a)).toEqual([]);
    a.spec.syncPolicy = {
      automated: { prune: true, selfHeal: true, allowEmpty: false },
      syncOptions: ["CreateNamespace=true", "PruneLast=true", "ServerSideApply=true"],
      managedNamespaceMetadata: { labels: { team: "web" }, annotations: { "owner.example.com/team": "web" } },
      retry: { limit: 5, backoff: { duration: "10s", factor: 2, maxDuration: "5m" } },
    };
    a.spec.source = {
      repoURL: "https://charts.example.com",
      chart: "ringlet",
      targetRevision: "1.2.3",
      helm: { releaseName: "ringlet", valuesObject: { anything: { nested: [1, 2] }, enabled: true }, parameters: [{ name: "a", value: "b" }] },
    };
    a.spec.ignoreDifferences = [{ group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"] }];
    expect(validateStrict(a)).toEqual([]);
  });

  it("an AppProject, description included", () => {
    expect(validateStrict(appProject())).toEqual([]);
  });

  it("a valid ExternalSecret with templates, dataFrom and free-form maps", () => {
    const e = externalSecret();
    expect(validateStrict(e)).toEqual([]);
    e.spec.target.template = {
      type: "Opaque",
      engineVersion: "v2",
      metadata: { labels: { a: "b" }, annotations: { "c.example.com/d": "e" } },
      data: { DATABASE_URL: "postgres://{{ .username }}:{{ .password }}@ringlet-postgres/ringlet" },
    };
    e.spec.dataFrom = [{ extract: { key: "ringlet/database" } }, { find: { name: { regexp: "^ringlet" }, tags: { env: "dev" } } }];
    expect(validateStrict(e)).toEqual([]);
  });
});

describe("schemaRule", () => {
  it("turns problems into findings with rule, file, path, env and object", () => {
    const broken = webDeployment();
    broken.spec.replicaz = 2;
    broken.spec.replicas = "two";
    const badApp = application();
    badApp.spec.syncPolicy.automatd = {};
    const ro = (object: KubeObject, source: string, env: string | undefined, layer: RenderedObject["layer"]): RenderedObject => ({ env, layer, object, source });
    const ctx = {
      environments: [
        {
          env: "dev",
          layers: {
            app: [ro(broken, "base/app/web-deployment.yaml", "dev", "app"), ro(find(app, "Service", "ringlet-web"), "base/app/web-service.yaml", "dev", "app")],
            data: [ro({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }, "overlays/dev/data/widget.yaml", "dev", "data")],
          },
        },
      ],
      argocd: [ro(badApp, "argocd/dev.yaml", undefined, "argocd")],
    } as Partial<RuleContext> as RuleContext;
    expect(schemaRule(ctx)).toEqual([
      { rule: "schema/invalid", file: "base/app/web-deployment.yaml", path: "spec.replicas", message: 'expected integer, got string "two"', env: "dev", object: "Deployment/ringlet-web" },
      { rule: "schema/unknown-field", file: "base/app/web-deployment.yaml", path: "spec.replicaz", message: 'unknown field "replicaz"; did you mean "replicas"?', env: "dev", object: "Deployment/ringlet-web" },
      { rule: "schema/unknown-kind", file: "overlays/dev/data/widget.yaml", path: "kind", message: "no schema for example.com/v1 Widget", env: "dev", object: "Widget/w" },
      { rule: "schema/unknown-field", file: "argocd/dev.yaml", path: "spec.syncPolicy.automatd", message: 'unknown field "automatd"; did you mean "automated"?', object: "Application/ringlet-dev" },
    ]);
  });
});

// Canary: the strictness is read out of the schema packages' compiled validators, so a change in
// how those packages are generated could silently weaken it. Every kind this repository renders,
// and the Argo CD kinds, must still flag an unknown field at the top of its spec and in its first
// container (where it has one).
describe("strictness canary, one per rendered kind", () => {
  it("flags an unknown field in every kind", async () => {
    const argocd: KubeObject[] = [];
    for (const f of (await readdir(join(FIXTURE_ROOT, "argocd"))).filter((n) => n.endsWith(".yaml") && n !== "kustomization.yaml")) {
      argocd.push(...parseYamlStream(await readFile(join(FIXTURE_ROOT, "argocd", f), "utf8"), f));
    }
    const byKind = new Map<string, KubeObject>();
    for (const o of [...app, ...data, ...argocd]) byKind.set(`${o.apiVersion}/${o.kind}`, o);
    expect([...byKind.keys()].length).toBeGreaterThanOrEqual(13);
    for (const [kind, original] of byKind) {
      const o = structuredClone(original) as Record<string, any>;
      const where = o.spec ? "spec" : o.data ? "data" : "metadata";
      if (where === "data") {
        // ConfigMap data is a free-form map: the canary goes at the top instead.
        o.zzCanary = true;
        expect(validateStrict(o).map((p) => p.path), kind).toContain("zzCanary");
        continue;
      }
      o[where].zzCanary = true;
      expect(validateStrict(o).map((p) => p.path), kind).toContain(`${where}.zzCanary`);
      const containers = o.spec?.template?.spec?.containers;
      if (containers) {
        containers[0].zzCanary = true;
        expect(validateStrict(o).map((p) => p.path), kind).toContain("spec.template.spec.containers[0].zzCanary");
      }
    }
  });
});
