// Every rule: a broken fixture proves it fires (with the field path), the clean fixture repository
// (test/fixtures/ringlet-snapshot) proves it stays quiet. Fixtures are its real rendered overlays with one thing broken by hand.
import { beforeAll, describe, expect, it } from "vitest";
import { gatherInputs } from "../tools/check/inputs.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoPaths } from "../tools/core/paths.ts";
import { FIXTURE_ROOT } from "./support/repo.ts";
import { parseYamlStream, type KubeObject } from "../tools/core/yaml.ts";
import { appOfAppsRules } from "../tools/rules/app-of-apps.ts";
import { argocdRules } from "../tools/rules/argocd.ts";
import { crdDefaults, crdListDefaultsRule } from "../tools/rules/crd-defaults.ts";
import { consistencyRules } from "../tools/rules/consistency.ts";
import { rules, runRules } from "../tools/rules/index.ts";
import { unmatchedPatchRule } from "../tools/rules/patches.ts";
import { addresses, networkRules } from "../tools/rules/network.ts";
import { policyRules } from "../tools/rules/policy.ts";
import { nginxSize, runtimeRules } from "../tools/rules/runtime.ts";
import type { Rule, RuleContext } from "../tools/rules/types.ts";

let clean: RuleContext;

beforeAll(async () => {
  const inputs = await gatherInputs(FIXTURE_ROOT, repoPaths(FIXTURE_ROOT).spec);
  expect(inputs.findings).toEqual([]);
  clean = inputs.context!;
});

/** A deep copy of the clean context, so each fixture breaks exactly one thing. */
function fixture(): RuleContext {
  return structuredClone(clean);
}

function obj(ctx: RuleContext, env: string, kind: string, name: string): KubeObject {
  const e = ctx.environments.find((x) => x.env === env)!;
  const found = [...e.layers.app!, ...e.layers.data!].find((o) => o.object.kind === kind && o.object.metadata?.name === name);
  if (!found) throw new Error(`fixture: no ${kind}/${name} in ${env}`);
  return found.object;
}

function app(ctx: RuleContext, name: string): KubeObject {
  const found = ctx.argocd.find((o) => o.object.kind === "Application" && o.object.metadata?.name === name);
  if (!found) throw new Error(`fixture: no Application ${name}`);
  return found.object;
}

// Typed helpers to reach into rendered objects without casts at every call site.
type Any = Record<string, any>;
const spec = (o: KubeObject) => o.spec as Any;
const pod = (o: KubeObject) => (o.spec as Any).template.spec as Any;

function fire(rule: Rule, ctx: RuleContext) {
  return rule(ctx).map((f) => ({ rule: f.rule, path: f.path, env: f.env, object: f.object, message: f.message }));
}

describe("the clean repository", () => {
  it("has no findings from any rule", () => {
    expect(runRules(clean)).toEqual([]);
  });
  it.each(Object.keys(rules))("%s stays quiet", (name) => {
    expect(rules[name]!(clean)).toEqual([]);
  });
});

describe("policy rules fire on broken fixtures", () => {
  it("libpq-user: the migration hook's pg_isready without PGUSER (the old wait-for-db), and the backup's pg_dump without it", () => {
    const ctx = fixture();
    const init = pod(obj(ctx, "prod", "Job", "ringlet-migrate")).initContainers[0];
    init.env = init.env.filter((e: Any) => e.name !== "PGUSER");
    const backup = spec(obj(ctx, "dev", "CronJob", "ringlet-postgres-backup")).jobTemplate.spec.template.spec.containers[0];
    backup.env = backup.env.filter((e: Any) => e.name !== "PGUSER");
    expect(fire(policyRules["libpq-user"]!, ctx)).toEqual([
      expect.objectContaining({ rule: "policy/libpq-user", env: "dev", object: "CronJob/ringlet-postgres-backup", path: "spec.jobTemplate.spec.template.spec.containers[0].command" }),
      expect.objectContaining({ rule: "policy/libpq-user", env: "prod", object: "Job/ringlet-migrate", path: "spec.template.spec.initContainers[0].command" }),
    ]);
  });
  it("libpq-user: quiet with --username, with PGUSER from a rendered ConfigMap, as root, and without `command` (the entrypoint runs)", () => {
    const ctx = fixture();
    const job = obj(ctx, "staging", "Job", "ringlet-migrate");
    const init = pod(job).initContainers[0];
    init.env = init.env.filter((e: Any) => e.name !== "PGUSER");
    const broken = structuredClone(ctx);
    expect(fire(policyRules["libpq-user"]!, broken).map((f) => f.env)).toEqual(["staging"]);
    init.args = [init.args[0].replace("pg_isready ", "pg_isready --username=ringlet ")];
    expect(fire(policyRules["libpq-user"]!, ctx)).toEqual([]);
    const fromConfigMap = structuredClone(broken);
    const connection = obj(fromConfigMap, "staging", "ConfigMap", "ringlet-connection");
    (connection.data as Any).PGUSER = "ringlet";
    expect(fire(policyRules["libpq-user"]!, fromConfigMap)).toEqual([]);
    const withEntrypoint = structuredClone(broken);
    delete pod(obj(withEntrypoint, "staging", "Job", "ringlet-migrate")).initContainers[0].command;
    expect(fire(policyRules["libpq-user"]!, withEntrypoint)).toEqual([]);
    const asRoot = structuredClone(broken);
    pod(obj(asRoot, "staging", "Job", "ringlet-migrate")).initContainers[0].securityContext.runAsUser = 0;
    expect(fire(policyRules["libpq-user"]!, asRoot)).toEqual([]);
  });
  it("resources: a container without a memory limit", () => {
    const ctx = fixture();
    delete pod(obj(ctx, "staging", "Deployment", "ringlet-worker")).containers[0].resources.limits.memory;
    expect(fire(policyRules.resources!, ctx)).toEqual([
      expect.objectContaining({ rule: "policy/resources", env: "staging", object: "Deployment/ringlet-worker", path: "spec.template.spec.containers[0].resources.limits.memory" }),
    ]);
  });
  it("resources: an init container without requests", () => {
    const ctx = fixture();
    delete pod(obj(ctx, "dev", "Job", "ringlet-migrate")).initContainers[0].resources.requests;
    const paths = fire(policyRules.resources!, ctx).map((f) => f.path);
    expect(paths).toEqual(["spec.template.spec.initContainers[0].resources.requests.cpu", "spec.template.spec.initContainers[0].resources.requests.memory"]);
  });
  it("image-tag: latest and a missing tag", () => {
    const ctx = fixture();
    pod(obj(ctx, "prod", "Deployment", "ringlet-web")).containers[0].image = "ghcr.io/ringlet/ringlet:latest";
    pod(obj(ctx, "prod", "Deployment", "ringlet-beat")).containers[0].image = "ghcr.io/ringlet/ringlet";
    const found = fire(policyRules["image-tag"]!, ctx);
    const byObject = Object.fromEntries(found.map((f) => [f.object, f]));
    expect(Object.keys(byObject).sort()).toEqual(["Deployment/ringlet-beat", "Deployment/ringlet-web"]);
    expect(byObject["Deployment/ringlet-web"]!.path).toBe("spec.template.spec.containers[0].image");
    expect(byObject["Deployment/ringlet-web"]!.message).toContain('"latest"');
    expect(byObject["Deployment/ringlet-beat"]!.message).toContain("no tag");
  });
  it("image-tag: a digest without tag is fine", () => {
    const ctx = fixture();
    pod(obj(ctx, "prod", "Deployment", "ringlet-web")).containers[0].image = `ghcr.io/ringlet/ringlet@sha256:${"a".repeat(64)}`;
    expect(fire(policyRules["image-tag"]!, ctx)).toEqual([]);
  });
  it("security: root allowed and privilege escalation", () => {
    const ctx = fixture();
    const p = pod(obj(ctx, "dev", "Deployment", "ringlet-beat"));
    delete p.securityContext.runAsNonRoot;
    p.containers[0].securityContext.allowPrivilegeEscalation = true;
    expect(fire(policyRules.security!, ctx).map((f) => f.path)).toEqual([
      "spec.template.spec.containers[0].securityContext.runAsNonRoot",
      "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
    ]);
  });
  it("probes: a served container without a readiness probe", () => {
    const ctx = fixture();
    delete pod(obj(ctx, "dev", "Deployment", "ringlet-web")).containers[0].readinessProbe;
    expect(fire(policyRules.probes!, ctx)).toEqual([expect.objectContaining({ object: "Deployment/ringlet-web", path: "spec.template.spec.containers[0].readinessProbe" })]);
  });
  it("autoscaler: a target that does not exist, and a target without CPU requests", () => {
    const ctx = fixture();
    spec(obj(ctx, "dev", "HorizontalPodAutoscaler", "ringlet-worker")).scaleTargetRef.name = "ringlet-wrker";
    delete pod(obj(ctx, "staging", "Deployment", "ringlet-web")).containers[0].resources.requests.cpu;
    const found = fire(policyRules.autoscaler!, ctx);
    expect(found.map((f) => [f.env, f.object, f.path])).toEqual([
      ["dev", "HorizontalPodAutoscaler/ringlet-worker", "spec.scaleTargetRef"],
      ["staging", "Deployment/ringlet-web", "spec.template.spec.containers[0].resources.requests.cpu"],
    ]);
  });
  it("autoscaler: replicas set on an autoscaled Deployment", () => {
    const ctx = fixture();
    spec(obj(ctx, "prod", "Deployment", "ringlet-web")).replicas = 3;
    expect(fire(policyRules.autoscaler!, ctx)).toEqual([expect.objectContaining({ object: "Deployment/ringlet-web", path: "spec.replicas" })]);
  });
  it("disruption-budget: minAvailable equal to the minimum scale blocks drains", () => {
    const ctx = fixture();
    const pdb = spec(obj(ctx, "dev", "PodDisruptionBudget", "ringlet-web"));
    delete pdb.maxUnavailable;
    pdb.minAvailable = 1;
    expect(fire(policyRules["disruption-budget"]!, ctx)).toEqual([expect.objectContaining({ env: "dev", path: "spec.minAvailable" })]);
  });
  it("disruption-budget: minAvailable below the minimum scale is fine", () => {
    const ctx = fixture();
    const pdb = spec(obj(ctx, "prod", "PodDisruptionBudget", "ringlet-web"));
    delete pdb.maxUnavailable;
    pdb.minAvailable = 2;
    expect(fire(policyRules["disruption-budget"]!, ctx)).toEqual([]);
  });
  it("service: a selector matching no pods and an Ingress backend with a wrong port", () => {
    const ctx = fixture();
    spec(obj(ctx, "staging", "Service", "ringlet-redis")).selector["app.kubernetes.io/component"] = "rediss";
    spec(obj(ctx, "prod", "Ingress", "ringlet-web")).rules[0].http.paths[0].backend.service.port = { name: "https" };
    expect(fire(policyRules.service!, ctx).map((f) => [f.rule, f.env, f.path])).toEqual([
      ["policy/service", "staging", "spec.selector"],
      ["policy/ingress", "prod", "spec.rules[0].http.paths[0].backend.service.port"],
    ]);
  });
  it("service: a targetPort no container exposes", () => {
    const ctx = fixture();
    spec(obj(ctx, "dev", "Service", "ringlet-web")).ports[0].targetPort = 8080;
    expect(fire(policyRules.service!, ctx)).toEqual([expect.objectContaining({ path: "spec.ports[0].targetPort" })]);
  });
  it("singleton: beat with two replicas, a rolling update and an autoscaler", () => {
    const ctx = fixture();
    const beat = spec(obj(ctx, "prod", "Deployment", "ringlet-beat"));
    beat.replicas = 2;
    beat.strategy = { type: "RollingUpdate" };
    spec(obj(ctx, "prod", "HorizontalPodAutoscaler", "ringlet-worker")).scaleTargetRef.name = "ringlet-beat";
    expect(fire(policyRules.singleton!, ctx).map((f) => [f.object, f.path])).toEqual([
      ["Deployment/ringlet-beat", "spec.replicas"],
      ["Deployment/ringlet-beat", "spec.strategy.type"],
      ["HorizontalPodAutoscaler/ringlet-worker", "spec.scaleTargetRef"],
    ]);
  });
  it("probes: a Celery worker and beat without liveness probes (long-running, served by no Service)", () => {
    const ctx = fixture();
    delete pod(obj(ctx, "dev", "Deployment", "ringlet-worker")).containers[0].livenessProbe;
    delete pod(obj(ctx, "dev", "Deployment", "ringlet-beat")).containers[0].livenessProbe;
    // A Job's container runs to completion: no liveness probe needed.
    expect(pod(obj(ctx, "dev", "Job", "ringlet-migrate")).containers[0].livenessProbe).toBeUndefined();
    expect(fire(policyRules.probes!, ctx).map((f) => [f.object, f.path]).sort()).toEqual([
      ["Deployment/ringlet-beat", "spec.template.spec.containers[0].livenessProbe"],
      ["Deployment/ringlet-worker", "spec.template.spec.containers[0].livenessProbe"],
    ]);
  });
  it("autoscaler: the case study's 80% memory target keeps web scaled out", () => {
    const ctx = fixture();
    for (const env of ["dev", "prod"]) spec(obj(ctx, env, "HorizontalPodAutoscaler", "ringlet-web")).metrics.push({ type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: 80 } } });
    const found = fire(policyRules.autoscaler!, ctx);
    expect(found.map((f) => [f.env, f.path])).toEqual([
      ["dev", "spec.metrics[1].resource.target.averageUtilization"],
      ["prod", "spec.metrics[1].resource.target.averageUtilization"],
    ]);
    // prod scales between 3 and 10: from 4 to 3 only under 80% x 3/4 of the request.
    expect(found[1]!.message).toContain("must be above 133%");
  });
  it("autoscaler: a memory target above (min+1)/min and below the limit is fine; one at the limit is not", () => {
    const ctx = fixture();
    // prod: min 3, request 512Mi, limit 1Gi.
    const hpa = spec(obj(ctx, "prod", "HorizontalPodAutoscaler", "ringlet-web"));
    hpa.metrics.push({ type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: 150 } } });
    expect(fire(policyRules.autoscaler!, ctx)).toEqual([]);
    hpa.metrics[1].resource.target.averageUtilization = 200;
    expect(fire(policyRules.autoscaler!, ctx)).toEqual([expect.objectContaining({ message: expect.stringContaining("OOM-killed") })]);
  });
  it("plain-secret: a Secret with data", () => {
    const ctx = fixture();
    ctx.environments[0]!.layers.data!.push({ env: "dev", layer: "data", source: "overlays/dev/data", object: { apiVersion: "v1", kind: "Secret", metadata: { name: "leak" }, data: { password: "aHVudGVyMg==" } } });
    expect(fire(policyRules["plain-secret"]!, ctx)).toEqual([expect.objectContaining({ object: "Secret/leak", path: "data" })]);
  });
  it("plain-secret: an empty Secret (e.g. a TLS placeholder) is fine", () => {
    const ctx = fixture();
    ctx.environments[0]!.layers.data!.push({ env: "dev", layer: "data", source: "overlays/dev/data", object: { apiVersion: "v1", kind: "Secret", metadata: { name: "empty" } } });
    expect(fire(policyRules["plain-secret"]!, ctx)).toEqual([]);
  });
});

describe("Argo CD rules fire on broken fixtures", () => {
  it("hook: a lower-case presync is silently ignored by Argo CD", () => {
    const ctx = fixture();
    obj(ctx, "dev", "Job", "ringlet-migrate").metadata!.annotations!["argocd.argoproj.io/hook"] = "presync";
    const found = fire(argocdRules.hook!, ctx);
    expect(found).toEqual([expect.objectContaining({ rule: "argocd/hook", path: 'metadata.annotations["argocd.argoproj.io/hook"]' })]);
    expect(found[0]!.message).toContain('did you mean "PreSync"');
  });
  it("hook: an unknown delete policy", () => {
    const ctx = fixture();
    obj(ctx, "prod", "Job", "ringlet-migrate").metadata!.annotations!["argocd.argoproj.io/hook-delete-policy"] = "BeforeHookCreation,HookSucceded";
    expect(fire(argocdRules.hook!, ctx)).toEqual([expect.objectContaining({ path: 'metadata.annotations["argocd.argoproj.io/hook-delete-policy"]' })]);
  });
  it("hook-job: a fixed-name hook without BeforeHookCreation, no deadline, and a TTL", () => {
    const ctx = fixture();
    const job = obj(ctx, "staging", "Job", "ringlet-migrate");
    job.metadata!.annotations!["argocd.argoproj.io/hook-delete-policy"] = "HookSucceeded";
    delete spec(job).activeDeadlineSeconds;
    spec(job).ttlSecondsAfterFinished = 60;
    expect(fire(argocdRules["hook-job"]!, ctx).map((f) => f.path)).toEqual([
      'metadata.annotations["argocd.argoproj.io/hook-delete-policy"]',
      "spec.activeDeadlineSeconds",
      "spec.ttlSecondsAfterFinished",
    ]);
  });
  it("presync-dependency: the hook reading the hashed application ConfigMap", () => {
    const ctx = fixture();
    const job = obj(ctx, "dev", "Job", "ringlet-migrate");
    const hashed = obj(ctx, "dev", "Deployment", "ringlet-web");
    const configName = (pod(hashed).containers[0].envFrom[1].configMapRef.name as string);
    expect(configName).toMatch(/^ringlet-config-[a-z0-9]{10}$/);
    pod(job).containers[0].envFrom.push({ configMapRef: { name: configName } });
    const found = fire(argocdRules["presync-dependency"]!, ctx);
    expect(found).toEqual([expect.objectContaining({ object: "Job/ringlet-migrate", path: "spec.template.spec.containers[0].envFrom[2].configMapRef.name" })]);
    expect(found[0]!.message).toContain("hash-suffixed");
  });
  it("presync-dependency: the hook reading a Secret that an ExternalSecret of the same Application creates", () => {
    const ctx = fixture();
    const env = ctx.environments.find((e) => e.env === "staging")!;
    env.layers.app!.push({ env: "staging", layer: "app", source: "overlays/staging", object: { apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", metadata: { name: "migrate-creds" }, spec: { target: { name: "migrate-secret" } } } });
    pod(obj(ctx, "staging", "Job", "ringlet-migrate")).containers[0].env.push({ name: "X", valueFrom: { secretKeyRef: { name: "migrate-secret", key: "x" } } });
    expect(fire(argocdRules["presync-dependency"]!, ctx)).toEqual([expect.objectContaining({ path: expect.stringMatching(/containers\[0\]\.env\[\d+\]\.valueFrom\.secretKeyRef\.name$/) })]);
  });
  it("sync-options: wrong case and unknown options", () => {
    const ctx = fixture();
    spec(app(ctx, "ringlet-dev")).syncPolicy.syncOptions = ["CreateNamespace=True", "PruneLast=true", "AutoPrune=true"];
    expect(fire(argocdRules["sync-options"]!, ctx).map((f) => f.path)).toEqual(["spec.syncPolicy.syncOptions[0]", "spec.syncPolicy.syncOptions[2]"]);
  });
  it("sync-options: a misspelt resource annotation", () => {
    const ctx = fixture();
    obj(ctx, "prod", "StatefulSet", "ringlet-redis").metadata!.annotations!["argocd.argoproj.io/sync-options"] = "Prune=False,Delete=false";
    expect(fire(argocdRules["sync-options"]!, ctx)).toEqual([expect.objectContaining({ object: "StatefulSet/ringlet-redis", env: "prod" })]);
  });
  it("manual-production: prod auto-synced", () => {
    const ctx = fixture();
    spec(app(ctx, "ringlet-prod")).syncPolicy.automated = { prune: true, selfHeal: true };
    expect(fire(argocdRules["manual-production"]!, ctx)).toEqual([expect.objectContaining({ object: "Application/ringlet-prod", path: "spec.syncPolicy.automated" })]);
  });
  it("project: a kind the apps render is not whitelisted, and Namespace is missing for CreateNamespace", () => {
    const ctx = fixture();
    const project = ctx.argocd.find((o) => o.object.kind === "AppProject")!.object;
    const p = spec(project);
    p.namespaceResourceWhitelist = p.namespaceResourceWhitelist.filter((k: Any) => k.kind !== "Job");
    p.clusterResourceWhitelist = [];
    const found = fire(argocdRules.project!, ctx);
    expect(found.filter((f) => f.path === "spec.namespaceResourceWhitelist").map((f) => f.message.split(" ")[0]).sort()).toEqual(["Application/ringlet-dev", "Application/ringlet-prod", "Application/ringlet-staging"]);
    // One per Application: each may create its namespace (CreateNamespace=true on both layers).
    expect(found.filter((f) => f.path === "spec.clusterResourceWhitelist").map((f) => f.message.split(" ")[0]).sort()).toEqual([
      "Application/ringlet-dev",
      "Application/ringlet-dev-data",
      "Application/ringlet-prod",
      "Application/ringlet-prod-data",
      "Application/ringlet-staging",
      "Application/ringlet-staging-data",
    ]);
  });
  it("project: a destination in Argo CD's own namespace", () => {
    const ctx = fixture();
    spec(ctx.argocd.find((o) => o.object.kind === "AppProject")!.object).destinations.push({ server: "https://kubernetes.default.svc", namespace: "argocd" });
    expect(fire(argocdRules.project!, ctx)).toEqual([expect.objectContaining({ path: "spec.destinations[3].namespace" })]);
  });
  it("hook-image: the migration Job on another tag than the workloads", () => {
    const ctx = fixture();
    pod(obj(ctx, "dev", "Job", "ringlet-migrate")).containers[0].image = "ghcr.io/ringlet/ringlet:v0.9.0";
    expect(fire(argocdRules["hook-image"]!, ctx)).toEqual([expect.objectContaining({ object: "Job/ringlet-migrate", path: "spec.template.spec.containers[0].image" })]);
  });
});

// The app of apps as Argo CD runs it: the root (argocd/root.yaml) syncs the objects listed in
// argocd/kustomization.yaml. Each fixture puts back one thing the repository once got wrong.
describe("app-of-apps rules fire on broken fixtures", () => {
  const root = (ctx: RuleContext) => app(ctx, "ringlet-root");
  const project = (ctx: RuleContext) => ctx.argocd.find((o) => o.object.kind === "AppProject" && o.object.metadata?.name === "ringlet")!.object;
  const WAVE = "argocd.argoproj.io/sync-wave";

  it("the clean root knows its children from argocd/kustomization.yaml", () => {
    expect(clean.argocdResources).toEqual(["argocd/project.yaml", "argocd/dev.yaml", "argocd/staging.yaml", "argocd/prod.yaml"]);
  });
  it("child-sync-policy: a self-healing root that does not ignore its children's auto-sync", () => {
    const ctx = fixture();
    delete spec(root(ctx)).ignoreDifferences;
    const found = fire(appOfAppsRules["child-sync-policy"]!, ctx);
    expect(found.map((f) => [f.object, f.path])).toEqual([["Application/ringlet-root", "spec.ignoreDifferences"]]);
    // Every automatically synced child, none of the manual ones.
    expect(found[0]!.message).toContain("ringlet-dev-data, ringlet-dev, ringlet-staging-data, ringlet-staging:");
    expect(found[0]!.message).not.toContain("ringlet-prod");
  });
  it("child-sync-policy: one child left out, and the ignore not respected when syncing", () => {
    const ctx = fixture();
    spec(root(ctx)).ignoreDifferences = spec(root(ctx)).ignoreDifferences.filter((e: Any) => e.name !== "ringlet-staging");
    spec(root(ctx)).syncPolicy.syncOptions = ["PruneLast=true"];
    const found = fire(appOfAppsRules["child-sync-policy"]!, ctx);
    expect(found.map((f) => f.path)).toEqual(["spec.ignoreDifferences", "spec.syncPolicy.syncOptions"]);
    expect(found[0]!.message).toMatch(/the automatically synced ringlet-staging:/);
  });
  it("child-sync-policy: the documented wildcard form (all Applications, /spec/syncPolicy) is fine", () => {
    const ctx = fixture();
    spec(root(ctx)).ignoreDifferences = [{ group: "*", kind: "Application", jsonPointers: ["/spec/syncPolicy"] }];
    expect(fire(appOfAppsRules["child-sync-policy"]!, ctx)).toEqual([]);
    spec(root(ctx)).ignoreDifferences = [{ group: "argoproj.io", kind: "Application", jsonPointers: ["/spec/syncPolicy/retry"] }];
    expect(fire(appOfAppsRules["child-sync-policy"]!, ctx)).toHaveLength(1);
  });
  it("child-sync-policy: an ApplicationSet of auto-synced Applications without ignoreApplicationDifferences", () => {
    const ctx = fixture();
    const set: KubeObject = {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "ApplicationSet",
      metadata: { name: "envs", namespace: "argocd" },
      spec: { generators: [{ list: { elements: [{ env: "dev" }] } }], template: { metadata: { name: "x-{{env}}" }, spec: { project: "ringlet", syncPolicy: { automated: { prune: true, selfHeal: true } } } } },
    };
    ctx.argocd.push({ env: undefined, layer: "argocd", source: "argocd/appset.yaml", object: set });
    expect(fire(appOfAppsRules["child-sync-policy"]!, ctx)).toEqual([expect.objectContaining({ object: "ApplicationSet/envs", path: "spec.ignoreApplicationDifferences" })]);
    spec(set).ignoreApplicationDifferences = [{ jsonPointers: ["/spec/syncPolicy"] }];
    expect(fire(appOfAppsRules["child-sync-policy"]!, ctx)).toEqual([]);
  });
  it("project-wave: the project in wave 0, after the Applications that name it", () => {
    const ctx = fixture();
    delete project(ctx).metadata!.annotations![WAVE];
    const found = fire(appOfAppsRules["project-wave"]!, ctx);
    expect(found.map((f) => [f.object, f.path])).toEqual([["AppProject/ringlet", `metadata.annotations["${WAVE}"]`]]);
    // Waves -1 and 0 are not after wave 0; the manual ones (wave 1) are.
    expect(found[0]!.message).toContain("Application/ringlet-dev-data (wave -1), Application/ringlet-dev (wave 0), Application/ringlet-staging-data (wave -1), Application/ringlet-staging (wave 0) name it");
  });
  it("namespace-missing: the application layer without CreateNamespace, and two owners of the namespace's labels", () => {
    const ctx = fixture();
    spec(app(ctx, "ringlet-dev")).syncPolicy.syncOptions = ["PruneLast=true"];
    spec(app(ctx, "ringlet-staging")).syncPolicy.managedNamespaceMetadata = { labels: { team: "b" } };
    const found = fire(appOfAppsRules["namespace-missing"]!, ctx);
    expect(found.map((f) => [f.object, f.path])).toEqual([
      ["Application/ringlet-dev", "spec.syncPolicy.syncOptions"],
      ["Application/ringlet-staging-data", "spec.syncPolicy.managedNamespaceMetadata"],
    ]);
    expect(found[0]!.message).toContain("Application/ringlet-dev-data creates");
  });
  it("manual-blocks-root: the manual prod data Application in the data wave, before the automated applications", () => {
    const ctx = fixture();
    app(ctx, "ringlet-prod-data").metadata!.annotations![WAVE] = "-1";
    app(ctx, "ringlet-prod").metadata!.annotations![WAVE] = "0";
    const found = fire(appOfAppsRules["manual-blocks-root"]!, ctx);
    expect(found.map((f) => f.object)).toEqual(["Application/ringlet-prod-data"]);
    expect(found[0]!.message).toContain("so Application/ringlet-dev (wave 0), Application/ringlet-prod (wave 0), Application/ringlet-staging (wave 0) would never be created");
  });
  it("cascade-deletion: a manual Application with the resources finalizer under the pruning root, unprotected", () => {
    const ctx = fixture();
    delete app(ctx, "ringlet-prod").metadata!.annotations!["argocd.argoproj.io/sync-options"];
    app(ctx, "ringlet-prod-data").metadata!.annotations!["argocd.argoproj.io/sync-options"] = "Delete=false";
    const found = fire(appOfAppsRules["cascade-deletion"]!, ctx);
    expect(found.map((f) => f.object)).toEqual(["Application/ringlet-prod-data", "Application/ringlet-prod"]);
    expect(found.every((f) => f.message.includes("argocd.argoproj.io/sync-options: Prune=false,"))).toBe(true);
    // A root that deletes its children with itself needs Delete=false as well.
    root(ctx).metadata!.finalizers = ["resources-finalizer.argocd.argoproj.io"];
    expect(fire(appOfAppsRules["cascade-deletion"]!, ctx).map((f) => f.message.match(/sync-options: (\S+),/)?.[1])).toEqual(["Prune=false", "Prune=false,Delete=false"]);
  });
  it("cascade-deletion: a root whose sync does not prune leaves the children alone", () => {
    const ctx = fixture();
    delete app(ctx, "ringlet-prod").metadata!.annotations!["argocd.argoproj.io/sync-options"];
    spec(root(ctx)).syncPolicy.syncOptions.push("Prune=false");
    expect(fire(appOfAppsRules["cascade-deletion"]!, ctx)).toEqual([]);
  });
});

describe("crd-list-defaults: custom resources against the defaults of their vendored CRD", () => {
  const COMPARE = "argocd.argoproj.io/compare-options";
  it("reads the defaults ExternalSecret's CRD declares for each data item's remoteRef", () => {
    const crd = parseYamlStream(readFileSync(join(FIXTURE_ROOT, "crds", "external-secrets.io_externalsecrets.yaml"), "utf8"), "crd");
    const remoteRef = crdDefaults(crd)["external-secrets.io/v1/ExternalSecret"]!.p!.spec!.p!.data!.i!.p!.remoteRef!.p!;
    // The ESO documentation: "Defaults to Default when omitted", "Defaults to None" (twice).
    expect(Object.fromEntries(Object.entries(remoteRef).map(([k, v]) => [k, v.d]))).toEqual({ conversionStrategy: "Default", decodingStrategy: "None", metadataPolicy: "None" });
    // The index holds every vendored CRD's defaults (crds/ has other CRDs too), ExternalSecret's among them.
    expect(clean.crdDefaults).toMatchObject(crdDefaults(crd));
  });
  it("fires on every data item of the ExternalSecrets of an Application without server-side diff", () => {
    const ctx = fixture();
    delete app(ctx, "ringlet-staging-data").metadata!.annotations![COMPARE];
    const found = fire(crdListDefaultsRule, ctx);
    const secrets = ctx.environments.find((e) => e.env === "staging")!.layers.data!.filter((o) => o.object.kind === "ExternalSecret");
    const items = secrets.reduce((n, s) => n + (spec(s.object).data as unknown[]).length, 0);
    expect(items).toBeGreaterThan(0);
    expect(found).toHaveLength(items);
    expect(new Set(found.map((f) => f.env))).toEqual(new Set(["staging"]));
    const django = found.find((f) => f.object === "ExternalSecret/ringlet-django")!;
    expect(django.path).toBe("spec.data[0].remoteRef");
    expect(django.message).toContain('leaves out conversionStrategy ("Default"), decodingStrategy ("None"), metadataPolicy ("None")');
    expect(django.message).toContain("Application ringlet-staging-data would be OutOfSync forever");
  });
  it("stays quiet when the items spell the defaults out, and ignores defaults outside lists", () => {
    const ctx = fixture();
    delete app(ctx, "ringlet-dev-data").metadata!.annotations![COMPARE];
    for (const s of ctx.environments.find((e) => e.env === "dev")!.layers.data!.filter((o) => o.object.kind === "ExternalSecret")) {
      for (const d of spec(s.object).data as Any[]) Object.assign(d.remoteRef, { conversionStrategy: "Default", decodingStrategy: "None", metadataPolicy: "None" });
      // refreshInterval and target.creationPolicy are defaulted too, but not inside a list.
      delete spec(s.object).refreshInterval;
    }
    expect(fire(crdListDefaultsRule, ctx)).toEqual([]);
  });
});

describe("consistency rules fire on broken fixtures", () => {
  it("resources: an object rendered in one environment only", () => {
    const ctx = fixture();
    const staging = ctx.environments.find((e) => e.env === "staging")!;
    staging.layers.app! = staging.layers.app!.filter((o) => o.object.kind !== "PodDisruptionBudget" || o.object.metadata?.name !== "ringlet-worker");
    expect(fire(consistencyRules.resources!, ctx)).toEqual([expect.objectContaining({ env: "staging", object: "PodDisruptionBudget/ringlet-worker" })]);
  });
  it("resources: the managed database difference declared by the spec is allowed", () => {
    const ctx = fixture();
    expect(ctx.environments.find((e) => e.env === "prod")!.layers.data!.some((o) => o.object.kind === "StatefulSet" && o.object.metadata?.name === "ringlet-postgres")).toBe(false);
    expect(fire(consistencyRules.resources!, ctx)).toEqual([]);
  });
  it("images: an invalid tag and a missing images entry", () => {
    const ctx = fixture();
    const dev = ctx.kustomizations.find((k) => k.env === "dev" && k.layer === "app")!;
    (dev.value.images as Any[])[0]!.newTag = ".v1";
    const prod = ctx.kustomizations.find((k) => k.env === "prod" && k.layer === "app")!;
    prod.value.images = [];
    expect(fire(consistencyRules.images!, ctx).map((f) => [f.env, f.path])).toEqual([
      ["dev", "images[0].newTag"],
      ["prod", "images"],
    ]);
  });
  it("destinations: an Application deploying into another namespace than its overlay", () => {
    const ctx = fixture();
    spec(app(ctx, "ringlet-staging-data")).destination.namespace = "ringlet-prod";
    expect(fire(consistencyRules.destinations!, ctx)).toEqual([expect.objectContaining({ object: "Application/ringlet-staging-data", path: "spec.destination.namespace" })]);
  });
  it("promotion-order: prod ahead of staging", () => {
    const ctx = fixture();
    (ctx.kustomizations.find((k) => k.env === "prod" && k.layer === "app")!.value.images as Any[])[0]!.newTag = "v1.2.0";
    expect(fire(consistencyRules["promotion-order"]!, ctx)).toEqual([expect.objectContaining({ env: "prod", path: "images" })]);
  });
  it("promotion-order: an automatic stage after a manual one", () => {
    const ctx = fixture();
    ctx.spec.environments.staging!.sync = "manual";
    ctx.spec.environments.prod!.sync = "auto";
    expect(fire(consistencyRules["promotion-order"]!, ctx)).toEqual([expect.objectContaining({ path: "environments.prod.sync" })]);
  });
});

describe("config-override rule", () => {
  it("fires when an environment's config restates a connection setting", () => {
    const ctx = fixture();
    ctx.spec.environments.staging!.config.DATABASE_HOST = "other-db";
    expect(fire(consistencyRules["config-override"]!, ctx)).toEqual([expect.objectContaining({ rule: "consistency/config-override", env: "staging", path: "environments.staging.config.DATABASE_HOST" })]);
  });
});

describe("patches rule", () => {
  it("fires on a patch whose target matches nothing (kustomize skips it silently)", () => {
    const ctx = fixture();
    const dev = ctx.kustomizations.find((k) => k.env === "dev" && k.layer === "app")!;
    (dev.value.patches as Any[])[0]!.target.name = "ringlet-webb";
    expect(fire(unmatchedPatchRule, ctx)).toEqual([expect.objectContaining({ rule: "patches/unmatched-target", env: "dev", path: "patches[0].target" })]);
  });
  it("matches names as kustomize does (anchored regular expressions)", () => {
    const ctx = fixture();
    const dev = ctx.kustomizations.find((k) => k.env === "dev" && k.layer === "app")!;
    (dev.value.patches as Any[])[0]!.target.name = "ringlet-.*";
    expect(fire(unmatchedPatchRule, ctx)).toEqual([]);
    (dev.value.patches as Any[])[0]!.target.name = "web";
    expect(fire(unmatchedPatchRule, ctx)).toHaveLength(1);
  });
});

describe("runtime rules fire on broken fixtures", () => {
  it("settings-env: collectstatic without the database credentials (what it lacked before)", () => {
    const ctx = fixture();
    const init = pod(obj(ctx, "staging", "Deployment", "ringlet-web")).initContainers[0];
    init.env = init.env.filter((e: Any) => !e.name.startsWith("DATABASE_"));
    const found = fire(runtimeRules["settings-env"]!, ctx);
    expect(found).toEqual([expect.objectContaining({ rule: "runtime/settings-env", env: "staging", object: "Deployment/ringlet-web", path: "spec.template.spec.initContainers[0].env" })]);
    expect(found[0]!.message).toContain('container "collectstatic" runs ghcr.io/ringlet/ringlet without DATABASE_PASSWORD, DATABASE_USER');
  });
  it("settings-env: the migration hook without the integration credentials", () => {
    const ctx = fixture();
    const c = pod(obj(ctx, "prod", "Job", "ringlet-migrate")).containers[0];
    c.envFrom = c.envFrom.filter((e: Any) => !e.secretRef);
    const found = fire(runtimeRules["settings-env"]!, ctx);
    expect(found.map((f) => [f.object, f.path])).toEqual([["Job/ringlet-migrate", "spec.template.spec.containers[0].env"]]);
    expect(found[0]!.message).toContain("AZURE_STORAGE_CONNECTION_STRING, EMAIL_HOST, EMAIL_HOST_PASSWORD, EMAIL_HOST_USER, GOOGLE_OAUTH_CLIENT_ID, GOOGLE_OAUTH_CLIENT_SECRET");
  });
  it("settings-env: keys of the application ConfigMap are optional (the hook cannot read it), others are not", () => {
    const ctx = fixture();
    const dev = ctx.environments.find((e) => e.env === "dev")!;
    const config = dev.layers.app!.find((o) => o.object.kind === "ConfigMap")!.object;
    (config.data as Any).NEW_TUNING = "1";
    expect(fire(runtimeRules["settings-env"]!, ctx)).toEqual([]);
    (obj(ctx, "dev", "ConfigMap", "ringlet-connection").data as Any).NEW_SETTING = "1";
    // Every container reading the stable ConfigMap gets it: still quiet.
    expect(fire(runtimeRules["settings-env"]!, ctx)).toEqual([]);
    for (const name of ["ringlet-web", "ringlet-worker", "ringlet-beat"]) pod(obj(ctx, "dev", "Deployment", name)).containers[0].env.push({ name: "ONLY_HERE", value: "x" });
    expect(fire(runtimeRules["settings-env"]!, ctx).map((f) => [f.object, f.path])).toEqual([
      ["Deployment/ringlet-web", "spec.template.spec.initContainers[0].env"],
      ["Job/ringlet-migrate", "spec.template.spec.containers[0].env"],
    ]);
  });
  it("upload-space: uploads buffered in the old 64Mi memory-backed /tmp", () => {
    const ctx = fixture();
    const p = pod(obj(ctx, "prod", "Deployment", "ringlet-web"));
    const web = p.containers[0];
    web.env = web.env.filter((e: Any) => e.name !== "FILE_UPLOAD_TEMP_DIR");
    const found = fire(runtimeRules["upload-space"]!, ctx);
    const tmp = p.volumes.findIndex((v: Any) => v.name === "tmp");
    expect(found).toEqual([expect.objectContaining({ rule: "runtime/upload-space", object: "Deployment/ringlet-web", path: `spec.template.spec.volumes[${tmp}].emptyDir.medium` })]);
    expect(found[0]!.message).toContain("Ingress/ringlet-web accepts request bodies of 512m");
    expect(found[0]!.message).toContain("memory-backed");
  });
  it("upload-space: a disk-backed temp dir smaller than one body, and a body limit raised past it", () => {
    const ctx = fixture();
    const p = pod(obj(ctx, "dev", "Deployment", "ringlet-web"));
    const uploads = p.volumes.findIndex((v: Any) => v.name === "uploads");
    p.volumes[uploads].emptyDir.sizeLimit = "256Mi";
    obj(ctx, "staging", "Ingress", "ringlet-web").metadata!.annotations!["nginx.ingress.kubernetes.io/proxy-body-size"] = "3g";
    expect(fire(runtimeRules["upload-space"]!, ctx).map((f) => [f.env, f.path])).toEqual([
      ["dev", `spec.template.spec.volumes[${uploads}].emptyDir.sizeLimit`],
      ["staging", `spec.template.spec.volumes[${uploads}].emptyDir.sizeLimit`],
    ]);
  });
  it("upload-space: an ephemeral-storage limit below the body, a temp dir on the read-only root, a malformed size", () => {
    const ctx = fixture();
    pod(obj(ctx, "dev", "Deployment", "ringlet-web")).containers[0].resources.limits["ephemeral-storage"] = "100Mi";
    const staging = pod(obj(ctx, "staging", "Deployment", "ringlet-web")).containers[0];
    staging.env.find((e: Any) => e.name === "FILE_UPLOAD_TEMP_DIR").value = "/srv/uploads";
    obj(ctx, "prod", "Ingress", "ringlet-web").metadata!.annotations!["nginx.ingress.kubernetes.io/proxy-body-size"] = "512MB";
    expect(fire(runtimeRules["upload-space"]!, ctx).map((f) => [f.env, f.path])).toEqual([
      ["dev", "spec.template.spec.containers[0].resources.limits.ephemeral-storage"],
      ["staging", "spec.template.spec.containers[0].volumeMounts"],
      ["prod", 'metadata.annotations["nginx.ingress.kubernetes.io/proxy-body-size"]'],
    ]);
  });
  it("nginx sizes: bytes, k, m, g in either case", () => {
    expect([nginxSize("512m"), nginxSize("1g"), nginxSize("1G"), nginxSize("10k"), nginxSize("100"), nginxSize("0")]).toEqual([512 * 1024 ** 2, 1024 ** 3, 1024 ** 3, 10240, 100, 0]);
    expect([nginxSize("512MB"), nginxSize("1.5g"), nginxSize("")]).toEqual([undefined, undefined, undefined]);
  });
  it("paths: collectstatic writing to a volume the web container does not read", () => {
    const ctx = fixture();
    const p = pod(obj(ctx, "staging", "Deployment", "ringlet-web"));
    p.volumes.push({ name: "other", emptyDir: {} });
    p.initContainers[0].volumeMounts.find((m: Any) => m.name === "static").name = "other";
    const found = fire(runtimeRules.paths!, ctx);
    expect(found).toEqual([expect.objectContaining({ env: "staging", object: "Deployment/ringlet-web", path: expect.stringMatching(/^spec\.template\.spec\.containers\[0\]\.env\[\d+\]$/) })]);
    expect(found[0]!.message).toContain('init container "collectstatic" and container "web" both use /usr/src/app/staticfiles (DJANGO_STATIC_ROOT)');
  });
  it("paths: a heartbeat file on the read-only root filesystem", () => {
    const ctx = fixture();
    const beat = pod(obj(ctx, "dev", "Deployment", "ringlet-beat")).containers[0];
    beat.env.find((e: Any) => e.name === "CELERY_BEAT_HEARTBEAT_FILE").value = "/usr/src/app/beat-heartbeat";
    expect(fire(runtimeRules.paths!, ctx)).toEqual([expect.objectContaining({ object: "Deployment/ringlet-beat", message: expect.stringContaining("read-only root filesystem") })]);
  });
});

/** Removes a rendered NetworkPolicy from an environment's data layer. */
function dropPolicy(ctx: RuleContext, env: string, name: string): void {
  const e = ctx.environments.find((x) => x.env === env)!;
  const before = e.layers.data!.length;
  e.layers.data! = e.layers.data!.filter((o) => !(o.object.kind === "NetworkPolicy" && o.object.metadata?.name === name));
  if (e.layers.data!.length !== before - 1) throw new Error(`fixture: no NetworkPolicy ${name} in ${env}`);
}

describe("network rules fire on broken fixtures", () => {
  it("default-deny: without it, pods no other policy selects for ingress are open", () => {
    const ctx = fixture();
    dropPolicy(ctx, "dev", "ringlet-default-deny");
    const found = fire(networkRules["default-deny"]!, ctx);
    expect(found.map((f) => f.object).sort()).toEqual(["CronJob/ringlet-postgres-backup", "Deployment/ringlet-beat", "Deployment/ringlet-worker", "Job/ringlet-migrate"]);
    expect(found.every((f) => f.message.includes("for Ingress:"))).toBe(true);
  });
  it("default-deny: an environment without any NetworkPolicy", () => {
    const ctx = fixture();
    const staging = ctx.environments.find((x) => x.env === "staging")!;
    staging.layers.data! = staging.layers.data!.filter((o) => o.object.kind !== "NetworkPolicy");
    const found = fire(networkRules["default-deny"]!, ctx);
    expect(found.length).toBe(podCount(ctx, "staging"));
    expect(found.every((f) => f.message.includes("for Ingress and Egress"))).toBe(true);
    // No policies at all: nothing is blocked, so reachability has nothing to say.
    expect(fire(networkRules.reachability!, ctx)).toEqual([]);
  });
  it("reachability: without the DNS allowance no pod can resolve the Services it names", () => {
    const ctx = fixture();
    dropPolicy(ctx, "dev", "ringlet-dns");
    const found = fire(networkRules.reachability!, ctx);
    // Every Ringlet workload names a Service (ringlet-connection); PostgreSQL reads only DATABASE_NAME.
    expect([...new Set(found.map((f) => f.object))].sort()).toEqual(["CronJob/ringlet-postgres-backup", "Deployment/ringlet-beat", "Deployment/ringlet-web", "Deployment/ringlet-worker", "Job/ringlet-migrate"]);
    expect(found.filter((f) => f.object === "Deployment/ringlet-web").map((f) => f.message.match(/on 53\/(UDP|TCP)/)![1])).toEqual(["UDP", "TCP"]);
  });
  it("reachability: without the ingress controller's allowance, the Ingress backend is unreachable", () => {
    const ctx = fixture();
    dropPolicy(ctx, "prod", "ringlet-web");
    const found = fire(networkRules.reachability!, ctx);
    expect(found).toEqual([expect.objectContaining({ env: "prod", object: "Ingress/ringlet-web", path: "spec.rules[0].http.paths[0].backend.service" })]);
    expect(found[0]!.message).toContain("no policy selecting the receiver admits this ingress");
  });
  it("reachability: a web policy on a port the container does not listen on", () => {
    const ctx = fixture();
    spec(obj(ctx, "dev", "NetworkPolicy", "ringlet-web")).ingress[0].ports[0].port = 8080;
    expect(fire(networkRules.reachability!, ctx)).toEqual([expect.objectContaining({ object: "Ingress/ringlet-web", message: expect.stringContaining("on 8000/TCP") })]);
  });
  it("reachability: without the egress to the data services, every client of PostgreSQL and Redis is cut off", () => {
    const ctx = fixture();
    dropPolicy(ctx, "staging", "ringlet-data-clients");
    const found = fire(networkRules.reachability!, ctx);
    const pairs = found.map((f) => `${f.object} -> ${/reads Service (\S+)/.exec(f.message)![1]}`);
    expect([...new Set(pairs)].sort()).toEqual([
      "CronJob/ringlet-postgres-backup -> ringlet-postgres",
      "Deployment/ringlet-beat -> ringlet-postgres",
      "Deployment/ringlet-beat -> ringlet-redis",
      "Deployment/ringlet-beat -> ringlet-redis-cache",
      "Deployment/ringlet-web -> ringlet-postgres",
      "Deployment/ringlet-web -> ringlet-redis",
      "Deployment/ringlet-web -> ringlet-redis-cache",
      "Deployment/ringlet-worker -> ringlet-postgres",
      "Deployment/ringlet-worker -> ringlet-redis",
      "Deployment/ringlet-worker -> ringlet-redis-cache",
      "Job/ringlet-migrate -> ringlet-postgres",
      "Job/ringlet-migrate -> ringlet-redis",
      "Job/ringlet-migrate -> ringlet-redis-cache",
    ]);
    expect(found.every((f) => f.message.includes("egress") && !f.message.includes("ingress"))).toBe(true);
  });
  it("reachability: Redis admitting only web cuts off the worker and beat (the receiver's side)", () => {
    const ctx = fixture();
    spec(obj(ctx, "dev", "NetworkPolicy", "ringlet-redis")).ingress[0].from[0].podSelector.matchLabels = { "app.kubernetes.io/component": "web" };
    const found = fire(networkRules.reachability!, ctx);
    expect(found.map((f) => f.object).sort()).toEqual(["Deployment/ringlet-beat", "Deployment/ringlet-worker", "Job/ringlet-migrate"]);
    expect(found[0]!.path).toMatch(/envFrom\[0\]$/);
    expect(found.every((f) => f.message.includes("Service ringlet-redis (REDIS_URL)") || f.message.includes("Service ringlet-redis (CELERY_BROKER_URL)"))).toBe(true);
  });
  it("reachability: a namespaceSelector matches the labels Argo CD puts on the namespace it creates", () => {
    const ctx = fixture();
    const from = spec(obj(ctx, "dev", "NetworkPolicy", "ringlet-redis")).ingress[0].from;
    // Ringlet's namespaces carry part-of=ringlet (the data Application's managedNamespaceMetadata).
    from[0] = { namespaceSelector: { matchLabels: { "app.kubernetes.io/part-of": "ringlet" } } };
    expect(fire(networkRules.reachability!, ctx)).toEqual([]);
    from[0] = { namespaceSelector: { matchLabels: { team: "payments" } } };
    expect(fire(networkRules.reachability!, ctx).length).toBeGreaterThan(0);
  });
  it("reachability: prod's managed database needs its own egress allowance", () => {
    const ctx = fixture();
    dropPolicy(ctx, "prod", "ringlet-managed-postgres");
    const found = fire(networkRules.reachability!, ctx);
    expect([...new Set(found.map((f) => f.object))].sort()).toEqual(["Deployment/ringlet-beat", "Deployment/ringlet-web", "Deployment/ringlet-worker", "Job/ringlet-migrate"]);
    expect(found[0]!.message).toContain("reads ringlet-prod.postgres.example.internal:5432 (DATABASE_HOST), outside the cluster");
  });
  it("reachability: cert-manager's HTTP-01 solver must be reachable from the ingress controller", () => {
    const ctx = fixture();
    dropPolicy(ctx, "dev", "ringlet-acme-http01-solver");
    expect(fire(networkRules.reachability!, ctx)).toEqual([expect.objectContaining({ object: "Ingress/ringlet-web", path: 'metadata.annotations["cert-manager.io/cluster-issuer"]' })]);
  });
  it("addresses: URLs, host:port and bare names, split on commas", () => {
    expect(addresses("redis://ringlet-redis:6379/0")).toEqual([{ host: "ringlet-redis", port: 6379 }]);
    expect(addresses("postgres://u:p@db.example.com/x")).toEqual([{ host: "db.example.com", port: undefined }]);
    expect(addresses("a.example.com,localhost b:25")).toEqual([{ host: "a.example.com" }, { host: "localhost" }, { host: "b", port: 25 }]);
    expect(addresses("/usr/src/app HTTP_X_FORWARDED_PROTO,https")).toEqual([{ host: "https" }]);
  });
});

function podCount(ctx: RuleContext, env: string): number {
  const e = ctx.environments.find((x) => x.env === env)!;
  return [...e.layers.app!, ...e.layers.data!].filter((o) => ["Deployment", "StatefulSet", "Job", "CronJob"].includes(o.object.kind ?? "")).length;
}
