// Spec v2 end to end, on a small application of its own (not Ringlet): one Ingress serving two
// hosts, an HPA and a KEDA ScaledObject with names of their own, a workload with a fixed replica
// count, an Argo Rollouts Rollout with a sidecar, a CronJob, managed data services, a GCP-style
// secret-key template and the per-environment escape hatch. Each case is one that the v1 spec
// could not express or expressed wrongly (noted per test). The real CLI, the real kustomize.
import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { parseYamlStream, type KubeObject } from "../tools/core/yaml.ts";
import { cleanEnv, FIXTURE_ROOT, TSX_LOADER } from "./support/repo.ts";

const exec = promisify(execFile);
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const BASE: Record<string, string> = {
  "base/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - api.yaml
  - ingress.yaml
  - worker.yaml
  - payments.yaml
  - report.yaml
  - secrets.yaml
configMapGenerator:
  - name: shop-config
    literals:
      - LOG_LEVEL=INFO
`,
  "base/api.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/shop
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {app: api}
  ports:
    - name: http
      port: 80
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: api-hpa
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 3
  maxReplicas: 20
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: alerts
spec:
  replicas: 1
  selector:
    matchLabels: {app: alerts}
  template:
    metadata:
      labels: {app: alerts}
    spec:
      containers:
        - name: alerts
          image: ghcr.io/acme/shop
`,
  // The dashboard host first in the rules, the API host first in TLS: matching by index would mix them up.
  "base/ingress.yaml": `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: public
spec:
  tls:
    - hosts: [api.shop.example.com, dashboard.shop.example.com]
      secretName: public-tls
  rules:
    - host: dashboard.shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: api, port: {name: http}}}
    - host: api.shop.example.com
      http:
        paths:
          - path: /v1
            pathType: Prefix
            backend: {service: {name: api, port: {name: http}}}
`,
  "base/worker.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: analysis
spec:
  selector:
    matchLabels: {app: analysis}
  template:
    metadata:
      labels: {app: analysis}
    spec:
      containers:
        - name: analysis
          image: ghcr.io/acme/shop
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: analysis-queue
spec:
  scaleTargetRef: {name: analysis}
  minReplicaCount: 1
  maxReplicaCount: 100
  triggers:
    - type: redis
      metadata: {listName: jobs, listLength: "5", address: redis:6379}
`,
  "base/payments.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: payments
spec:
  replicas: 2
  selector:
    matchLabels: {app: payments}
  strategy:
    blueGreen: {activeService: api}
  template:
    metadata:
      labels: {app: payments}
    spec:
      containers:
        - name: proxy
          image: envoyproxy/envoy:v1.31.0
        - name: payments
          image: ghcr.io/acme/shop
`,
  "base/report.yaml": `apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: report
              image: ghcr.io/acme/shop
`,
  "base/secrets.yaml": `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: shop-db
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: gcp}
  target: {name: shop-db}
  data:
    - secretKey: password
      remoteRef: {key: shop-db-password}
  dataFrom:
    - extract: {key: shop-db-settings}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: vendor
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: vault}
  target: {name: vendor}
  data:
    - secretKey: token
      remoteRef: {key: shop-vendor-token}
`,
};

const SPEC = `name: shop
repoURL: https://github.com/acme/shop-gitops.git
project: shop
images:
  - name: ghcr.io/acme/shop
    initialTag: v1.0.0
configMap: {layer: app, name: shop-config}
secrets:
  - baseKey: "shop-{key}"
    key: "shop-{env}-{key}"
    store: {kind: ClusterSecretStore, name: gcp}
components:
  api:
    workload: {kind: Deployment, name: api}
    container: api
    scaler: {kind: HorizontalPodAutoscaler, name: api-hpa}
  analysis:
    workload: {kind: Deployment, name: analysis}
    container: analysis
    scaler: {kind: ScaledObject, name: analysis-queue}
  alerts:
    workload: {kind: Deployment, name: alerts}
    container: alerts
  payments:
    workload: {kind: Rollout, name: payments}
    container: payments
  report:
    workload: {kind: CronJob, name: report}
    container: report
environments:
  staging:
    namespace: shop-staging
    hosts:
      api.shop.example.com: api.staging.shop.example.com
      dashboard.shop.example.com: dashboard.staging.shop.example.com
    sync: auto
    components:
      analysis:
        replicas: {min: 0, max: 50}
      alerts:
        replicas: 2
      payments:
        resources:
          requests: {cpu: 500m, memory: 256Mi}
          limits: {cpu: "1", memory: 512Mi}
      report:
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 200m, memory: 256Mi}
  prod:
    namespace: shop-prod
    hosts:
      api.shop.example.com: api.shop.example.com
      dashboard.shop.example.com: dashboard.shop.example.com
    sync: manual
`;

async function fixture(files: Record<string, string> = {}, spec = SPEC): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "spec-v2-"));
  dirs.push(dir);
  for (const [path, content] of Object.entries({ ...BASE, "overlays/environments.yaml": spec, ...files })) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  // The custom resources are validated against their vendored CRDs, as in a fork.
  await cp(join(FIXTURE_ROOT, "crds"), join(dir, "crds"), { recursive: true });
  return dir;
}

async function cli(root: string, args: string[]) {
  return exec(process.execPath, ["--import", TSX_LOADER, join(TOOLS_ROOT, "tools", "cli.ts"), ...args.slice(0, 1), "--root", root, ...args.slice(1)], { cwd: root, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
  );
}

async function rendered(root: string, env: string, extra: string[] = []): Promise<KubeObject[]> {
  const r = await cli(root, ["render", env, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return parseYamlStream(r.stdout, `render ${env}`);
}

const find = (objects: KubeObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata?.name === name)!;

async function tree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.set(relative(root, join(e.parentPath, e.name)), await readFile(join(e.parentPath, e.name), "utf8"));
  }
  return out;
}

describe("spec v2 on an application that is not Ringlet", () => {
  it("rewrites every host of every rule and TLS entry by base host (v1 patched rules[0] and tls[0].hosts[0] only)", async () => {
    const root = await fixture();
    const gen = await cli(root, ["generate"]);
    expect(gen.code, gen.stdout + gen.stderr).toBe(0);
    const ingress = find(await rendered(root, "staging"), "Ingress", "public");
    const spec = ingress.spec as { rules: { host: string }[]; tls: { hosts: string[] }[] };
    expect(spec.rules.map((r) => r.host)).toEqual(["dashboard.staging.shop.example.com", "api.staging.shop.example.com"]);
    expect(spec.tls[0]!.hosts).toEqual(["api.staging.shop.example.com", "dashboard.staging.shop.example.com"]);
    // No production host is left in staging; prod keeps its own (nothing to patch).
    expect(JSON.stringify(ingress)).not.toMatch(/"(api|dashboard)\.shop\.example\.com"/);
    expect(await readdir(join(root, "overlays", "prod"))).not.toContain("ingress-public.yaml");
    // A base whose rules are reordered fails the build instead of serving the wrong host: each replace is tested.
    const patch = await readFile(join(root, "overlays", "staging", "ingress-public.yaml"), "utf8");
    expect(patch).toContain("- op: test\n  path: /spec/rules/0/host\n  value: dashboard.shop.example.com\n- op: replace\n  path: /spec/rules/0/host\n");
    await writeFile(join(root, "base", "ingress.yaml"), BASE["base/ingress.yaml"]!.replace("- host: dashboard.shop.example.com", "- host: dashboard2.shop.example.com"));
    const broken = await cli(root, ["render", "staging"]);
    expect(broken.code).toBe(1);
    expect(broken.stderr + broken.stdout).toMatch(/test/i);
  }, 60_000);

  it("patches a ScaledObject of any name to scale from zero, and a fixed replica count into a workload without scaler", async () => {
    const root = await fixture();
    expect((await cli(root, ["generate"])).code).toBe(0);
    const objects = await rendered(root, "staging");
    expect(find(objects, "ScaledObject", "analysis-queue").spec).toMatchObject({ minReplicaCount: 0, maxReplicaCount: 50 });
    expect((find(objects, "Deployment", "alerts").spec as { replicas: number }).replicas).toBe(2);
    // The HPA of its own name is left alone where the environment says nothing.
    expect(find(objects, "HorizontalPodAutoscaler", "api-hpa").spec).toMatchObject({ minReplicas: 3, maxReplicas: 20 });
  }, 60_000);

  it("sets a Rollout's container resources by name, keeping its other containers, and a CronJob's in its job template", async () => {
    const root = await fixture();
    expect((await cli(root, ["generate"])).code).toBe(0);
    const objects = await rendered(root, "staging");
    const containers = (find(objects, "Rollout", "payments").spec as { template: { spec: { containers: { name: string; resources?: unknown }[] } } }).template.spec.containers;
    // A strategic merge patch would have replaced the whole list (kustomize knows no merge key for a CRD).
    expect(containers.map((c) => c.name)).toEqual(["proxy", "payments"]);
    expect(containers[1]!.resources).toEqual({ requests: { cpu: "500m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } });
    expect(containers[0]!.resources).toBeUndefined();
    const cron = find(objects, "CronJob", "report").spec as { jobTemplate: { spec: { template: { spec: { containers: { resources: unknown }[] } } } } };
    expect(cron.jobTemplate.spec.template.spec.containers[0]!.resources).toEqual({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "200m", memory: "256Mi" } });
  }, 60_000);

  it("one layer, no data, no connection: one overlay and one Application per environment (v1 required database and connection)", async () => {
    const root = await fixture();
    expect((await cli(root, ["generate"])).code).toBe(0);
    const files = [...(await tree(root)).keys()].filter((f) => f.startsWith("overlays/") || f.startsWith("argocd/")).sort();
    expect(files.filter((f) => f.startsWith("overlays/staging/") && f.endsWith("kustomization.yaml"))).toEqual(["overlays/staging/kustomization.yaml"]);
    const apps = parseYamlStream(await readFile(join(root, "argocd", "staging.yaml"), "utf8"), "staging.yaml");
    expect(apps.map((a) => [a.metadata?.name, (a.spec as { source: { path: string } }).source.path, a.metadata?.annotations?.["argocd.argoproj.io/sync-wave"]])).toEqual([["shop-staging", "overlays/staging", "0"]]);
    const project = parseYamlStream(await readFile(join(root, "argocd", "project.yaml"), "utf8"), "project.yaml")[0]!;
    expect(project.metadata?.annotations?.["argocd.argoproj.io/sync-wave"]).toBe("-1");
    // The GCP-style template applies to its store only: ids without '/', the vault key untouched.
    const objects = await rendered(root, "staging");
    const key = (name: string) => (find(objects, "ExternalSecret", name).spec as { data: { remoteRef: { key: string } }[] }).data[0]!.remoteRef.key;
    expect([key("shop-db"), key("vendor")]).toEqual(["shop-staging-db-password", "shop-vendor-token"]);
    expect((find(objects, "ExternalSecret", "shop-db").spec as { dataFrom: unknown[] }).dataFrom).toEqual([{ extract: { key: "shop-staging-db-settings" } }]);
  }, 60_000);

  it("keeps an extras patch, lists it, renders it in check, and merges application overrides", async () => {
    const spec = SPEC.replace(
      "    sync: auto\n",
      "    sync: auto\n    extras:\n      app:\n        patches: [node-pool.yaml]\n    application:\n      syncOptions: [ServerSideApply=true]\n      ignoreDifferences:\n        - {group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}\n",
    );
    const nodePool = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      nodeSelector:\n        pool: spot\n";
    const root = await fixture({ "overlays/staging/node-pool.yaml": nodePool }, spec);
    const gen = await cli(root, ["generate"]);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout).toContain("note: staging: the app overlay includes your own node-pool.yaml");
    expect(await readFile(join(root, "overlays", "staging", "node-pool.yaml"), "utf8")).toBe(nodePool);
    expect(await readFile(join(root, "overlays", "staging", "kustomization.yaml"), "utf8")).toContain("  - path: node-pool.yaml\n");
    const api = find(await rendered(root, "staging"), "Deployment", "api").spec as { template: { spec: { nodeSelector?: unknown } } };
    expect(api.template.spec.nodeSelector).toEqual({ pool: "spot" });
    const app = parseYamlStream(await readFile(join(root, "argocd", "staging.yaml"), "utf8"), "staging.yaml")[0]!.spec as { syncPolicy: { syncOptions: string[] }; ignoreDifferences: unknown[] };
    expect(app.syncPolicy.syncOptions).toEqual(["CreateNamespace=true", "PruneLast=true", "ServerSideApply=true"]);
    expect(app.ignoreDifferences).toEqual([{ group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"] }]);
    // Generate again: up to date (the user's file is not generated, so never drift nor deleted).
    expect((await cli(root, ["generate"])).stdout).toContain("everything is up to date");
    const check = await cli(root, ["check", "--json"]);
    const findings = JSON.parse(check.stdout).findings as { rule: string; file: string }[];
    expect(findings.filter((f) => /^(drift|render|spec)\//.test(f.rule))).toEqual([]);
    // A removed extras file is reported by generate (and check), with the spec line.
    await rm(join(root, "overlays", "staging", "node-pool.yaml"));
    const missing = await cli(root, ["generate"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr + missing.stdout).toMatch(/overlays\/environments\.yaml:\d+: environments\.staging\.extras\.app\.patches\[0\]: patch file overlays\/staging\/node-pool\.yaml does not exist/);
  }, 90_000);

  it("reports every missing patch target at once with file:line and leaves the tree unchanged", async () => {
    const spec = SPEC.replace("name: api-hpa}", "name: api-autoscaler}")
      .replace("name: payments}", "name: payment}")
      .replace("    container: report\n", "    container: reporter\n")
      .replace("      dashboard.shop.example.com: dashboard.staging.shop.example.com\n", "      admin.shop.example.com: admin.staging.shop.example.com\n");
    const root = await fixture({}, spec);
    const before = await tree(root);
    const r = await cli(root, ["generate"]);
    expect(r.code).toBe(1);
    const out = r.stderr + r.stdout;
    const lines = spec.split("\n");
    const lineOf = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;
    expect(out).toContain(`overlays/environments.yaml:${lineOf("name: api-autoscaler")}: components.api.scaler: no HorizontalPodAutoscaler named api-autoscaler in the base (HorizontalPodAutoscalers: api-hpa)`);
    expect(out).toContain(`overlays/environments.yaml:${lineOf("name: payment}")}: components.payments.workload: no Rollout named payment in the base (Rollouts: payments)`);
    expect(out).toContain(`overlays/environments.yaml:${lineOf("container: reporter")}: components.report.container: CronJob report has no container reporter; containers: report`);
    expect(out).toMatch(/environments\.staging\.hosts\.admin\.shop\.example\.com: no Ingress rule or TLS entry of the base has host admin\.shop\.example\.com/);
    expect(out).toMatch(/environments\.staging\.hosts: the base's host dashboard\.shop\.example\.com has no entry: staging would serve it as it is/);
    expect(out).not.toMatch(/\n\s+at /); // no stack trace
    expect(await tree(root)).toEqual(before);
  }, 60_000);

  it("host: shorthand on a base with two hosts is refused (v1 would have patched only the first)", async () => {
    const spec = SPEC.replace(/    hosts:\n      api\.shop\.example\.com: api\.staging\.shop\.example\.com\n      dashboard\.shop\.example\.com: dashboard\.staging\.shop\.example\.com\n/, "    host: staging.shop.example.com\n");
    const root = await fixture({}, spec);
    const r = await cli(root, ["generate"]);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/environments\.staging\.host: the base serves 2 hosts \(dashboard\.shop\.example\.com, api\.shop\.example\.com\): give hosts:/);
  }, 30_000);

  it("a managed data service: its component joins the layer's overlay and its values fill the ConfigMap", async () => {
    const files = {
      "base/kustomization.yaml": `${BASE["base/kustomization.yaml"]!.replace("  - secrets.yaml\n", "  - secrets.yaml\n  - kafka.yaml\n")}`,
      "base/kafka.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop-connection\ndata:\n  KAFKA_BROKERS: kafka:9092\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: kafka\nspec:\n  ports: [{port: 9092}]\n",
      "components/managed-kafka/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - patch: |-\n      $patch: delete\n      apiVersion: v1\n      kind: Service\n      metadata:\n        name: kafka\n",
    };
    const spec = SPEC.replace(
      "components:\n  api:",
      'data:\n  kafka:\n    layer: app\n    configMap: shop-connection\n    managed:\n      component: components/managed-kafka\n      values: {KAFKA_BROKERS: "{host}:{port}", KAFKA_TLS: "{tls}"}\n      defaults: {port: "9093", tls: "true"}\ncomponents:\n  api:',
    ).replace("    sync: manual\n", "    sync: manual\n    data:\n      kafka: {mode: managed, host: kafka.prod.example.net}\n");
    const root = await fixture(files, spec);
    const gen = await cli(root, ["generate"]);
    expect(gen.code, gen.stderr).toBe(0);
    const prod = await rendered(root, "prod");
    expect(find(prod, "ConfigMap", "shop-connection").data).toEqual({ KAFKA_BROKERS: "kafka.prod.example.net:9093", KAFKA_TLS: "true" });
    expect(find(prod, "Service", "kafka")).toBeUndefined();
    // Staging keeps the in-cluster one.
    const staging = await rendered(root, "staging");
    expect(find(staging, "Service", "kafka")).toBeDefined();
  }, 60_000);
});

describe("spec v2 validation", () => {
  it("names the v2 form for every v1 form, all at once", async () => {
    const v1 = SPEC.replace("configMap: {layer: app, name: shop-config}", "configMap: shop-config")
      .replace("    workload: {kind: Deployment, name: api}\n", "    kind: web\n    workload: api\n")
      .replace("    sync: manual\n", "    sync: manual\n    database:\n      mode: managed\n      host: db.example.net\n    secretsPath: shop/prod\n");
    const root = await fixture({}, v1);
    const r = await cli(root, ["generate"]);
    expect(r.code).toBe(1);
    const out = r.stderr + r.stdout;
    expect(out).toMatch(/configMap: configMap: shop-config is the spec v1 form: write configMap: \{layer: <layer of its configMapGenerator>, name: shop-config\}/);
    expect(out).toMatch(/components\.api\.kind: kind: web is the spec v1 form: .*workload: \{kind: Deployment, name: …\}, scaler: \{kind: HorizontalPodAutoscaler/);
    expect(out).toMatch(/environments\.prod\.database: database: is the spec v1 form: .*data: \{postgres: \{mode: managed/);
    expect(out).toMatch(/environments\.prod\.secretsPath: secretsPath is the spec v1 form: write secretKey: "shop\/prod\/\{key\}"/);
    expect(out).toMatch(/overlays\/environments\.yaml:\d+: /);
  }, 30_000);

  it("replica counts follow what scales the component", async () => {
    const bad = SPEC.replace("        replicas: {min: 0, max: 50}\n", "        replicas: 5\n")
      .replace("      alerts:\n        replicas: 2\n", "      alerts:\n        replicas: {min: 1, max: 3}\n      api:\n        replicas: {min: 0, max: 3}\n")
      .replace("      report:\n        resources:\n", "      report:\n        replicas: 1\n        resources:\n");
    const root = await fixture({}, bad);
    const r = await cli(root, ["generate"]);
    expect(r.code).toBe(1);
    const out = r.stderr + r.stdout;
    expect(out).toContain("environments.staging.components.analysis.replicas: components.analysis is scaled by ScaledObject analysis-queue: give its bounds, replicas: {min, max}");
    expect(out).toContain("environments.staging.components.alerts.replicas: components.alerts has no scaler: give a fixed count (replicas: N)");
    expect(out).toContain("environments.staging.components.api.replicas.min: a HorizontalPodAutoscaler's minReplicas is at least 1");
    expect(out).toContain("a CronJob has no replicas");
  }, 30_000);
});
