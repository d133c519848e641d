// Ringlet's deployment as the tools generate it, asserted on what the real kustomize renders for
// every environment of the fixture snapshot (test/fixtures/ringlet-snapshot: its spec, base and
// generated overlays), independently of the check rules, so a bug in a rule cannot hide a broken
// manifest. The repository's own manifests are held generically by test/repository.test.ts.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { FIXTURE_ROOT } from "./support/repo.ts";

const exec = promisify(execFile);
const KUBECTL = join(TOOLS_ROOT, ".tools", "kubectl");
const ENVS = ["dev", "staging", "prod"] as const;
type Obj = Record<string, any>;

async function build(dir: string): Promise<Obj[]> {
  const { stdout } = await exec(KUBECTL, ["kustomize", join(FIXTURE_ROOT, dir)], { maxBuffer: 32 * 1024 * 1024 });
  return parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
}

const rendered = new Map<string, { app: Obj[]; data: Obj[] }>();
let applications: Obj[] = [];
let project: Obj;

beforeAll(async () => {
  for (const env of ENVS) rendered.set(env, { app: await build(`overlays/${env}`), data: await build(`overlays/${env}/data`) });
  for (const env of ENVS) {
    const text = await readFile(join(FIXTURE_ROOT, "argocd", `${env}.yaml`), "utf8");
    applications.push(...parseAllDocuments(text).map((d) => d.toJS() as Obj));
  }
  project = parseAllDocuments(await readFile(join(FIXTURE_ROOT, "argocd", "project.yaml"), "utf8"))[0]!.toJS() as Obj;
});

const find = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
};
const all = (env: string) => [...rendered.get(env)!.app, ...rendered.get(env)!.data];
const podSpecOf = (o: Obj): Obj | undefined => (o.kind === "CronJob" ? o.spec.jobTemplate.spec.template.spec : o.spec?.template?.spec);
const containersOf = (o: Obj): Obj[] => {
  const p = podSpecOf(o);
  return p ? [...(p.containers ?? []), ...(p.initContainers ?? [])] : [];
};

it("uses kustomize v5 or newer", async () => {
  const { stdout } = await exec(KUBECTL, ["version", "--client", "-o", "json"]);
  expect(Number(/^v(\d+)\./.exec(JSON.parse(stdout).kustomizeVersion)![1])).toBeGreaterThanOrEqual(5);
});

describe.each(ENVS)("%s", (env) => {
  it("runs exactly one Celery beat, with Recreate, and no autoscaler targets it", () => {
    const beat = find(all(env), "Deployment", "ringlet-beat");
    expect(beat.spec.replicas).toBe(1);
    expect(beat.spec.strategy.type).toBe("Recreate");
    const targets = all(env).filter((o) => o.kind === "HorizontalPodAutoscaler").map((h) => h.spec.scaleTargetRef.name);
    expect(targets).not.toContain("ringlet-beat");
  });

  it("runs migrations as a PreSync hook Job with a fixed name, BeforeHookCreation and bounds", () => {
    const job = find(rendered.get(env)!.app, "Job", "ringlet-migrate");
    expect(job.metadata.annotations["argocd.argoproj.io/hook"]).toBe("PreSync");
    expect(job.metadata.annotations["argocd.argoproj.io/hook-delete-policy"]).toBe("BeforeHookCreation");
    expect(job.metadata.generateName).toBeUndefined();
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
  });

  it("moves the migration Job with the web Deployment: one image", () => {
    const job = find(rendered.get(env)!.app, "Job", "ringlet-migrate");
    const web = find(rendered.get(env)!.app, "Deployment", "ringlet-web");
    const webImage = web.spec.template.spec.containers.find((c: Obj) => c.name === "web").image;
    // Whatever tag or digest the overlay runs today (bump-image moves it).
    expect(webImage).toMatch(/^ghcr\.io\/ringlet\/ringlet(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$/);
    expect(webImage).not.toBe("ghcr.io/ringlet/ringlet");
    expect(job.spec.template.spec.containers.find((c: Obj) => c.name === "migrate").image).toBe(webImage);
    for (const name of ["ringlet-worker", "ringlet-beat"]) expect(find(all(env), "Deployment", name).spec.template.spec.containers[0].image).toBe(webImage);
  });

  it("gives the migration Job only what the data Application provides (a first sync finds it)", () => {
    const job = find(rendered.get(env)!.app, "Job", "ringlet-migrate");
    const appNames = new Set(rendered.get(env)!.app.filter((o) => ["ConfigMap", "Secret", "ExternalSecret"].includes(o.kind)).map((o) => o.metadata.name));
    const dataProvides = new Set(rendered.get(env)!.data.flatMap((o) => (o.kind === "ExternalSecret" ? [o.spec.target.name] : o.kind === "ConfigMap" ? [o.metadata.name] : [])));
    const reads = containersOf(job).flatMap((c) => [
      ...(c.envFrom ?? []).map((e: Obj) => e.configMapRef?.name ?? e.secretRef?.name),
      // An optional reference (REDIS_PASSWORD, only with a managed Redis) may name nothing.
      ...(c.env ?? []).filter((e: Obj) => !e.valueFrom?.secretKeyRef?.optional).map((e: Obj) => e.valueFrom?.configMapKeyRef?.name ?? e.valueFrom?.secretKeyRef?.name).filter(Boolean),
    ]);
    expect(reads.length).toBeGreaterThan(0);
    for (const name of reads) {
      expect(appNames.has(name)).toBe(false);
      expect(dataProvides.has(name)).toBe(true);
    }
  });

  it("deploys into the namespace of its Argo CD destinations", () => {
    const ns = `ringlet-${env}`;
    for (const o of all(env)) expect(o.metadata.namespace).toBe(ns);
    const apps = applications.filter((a) => a.spec.source.path.startsWith(`overlays/${env}`));
    expect(apps.map((a) => a.spec.source.path).sort()).toEqual([`overlays/${env}`, `overlays/${env}/data`]);
    for (const a of apps) expect(a.spec.destination.namespace).toBe(ns);
    expect(project.spec.destinations.map((d: Obj) => d.namespace)).toContain(ns);
  });

  it("sets requests and limits on every container, init containers included", () => {
    for (const o of all(env)) {
      for (const c of containersOf(o)) {
        expect(c.resources?.requests?.cpu, `${o.kind}/${o.metadata.name} ${c.name}`).toBeDefined();
        expect(c.resources?.requests?.memory, `${o.kind}/${o.metadata.name} ${c.name}`).toBeDefined();
        expect(c.resources?.limits?.cpu, `${o.kind}/${o.metadata.name} ${c.name}`).toBeDefined();
        expect(c.resources?.limits?.memory, `${o.kind}/${o.metadata.name} ${c.name}`).toBeDefined();
      }
    }
  });

  it("runs every container as non-root, without privilege escalation, on a read-only root filesystem", () => {
    for (const o of all(env)) {
      const pod = podSpecOf(o);
      if (!pod) continue;
      for (const c of containersOf(o)) {
        const label = `${o.kind}/${o.metadata.name} ${c.name}`;
        expect(c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, label).toBe(true);
        expect(c.securityContext?.allowPrivilegeEscalation, label).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem, label).toBe(true);
      }
    }
  });

  it("probes gunicorn on /health/ and rolls web out with maxSurge 1, maxUnavailable 0", () => {
    const web = find(all(env), "Deployment", "ringlet-web");
    const c = web.spec.template.spec.containers.find((x: Obj) => x.name === "web");
    expect(c.ports).toEqual([{ name: "http", containerPort: 8000 }]);
    expect(c.livenessProbe.httpGet.path).toBe("/health/");
    expect(c.readinessProbe.httpGet.path).toBe("/health/");
    // Django answers only hosts in ALLOWED_HOSTS (from the stable ConfigMap, which the migration
    // hook reads too): the environment's own host, and the one the probes ask for.
    const connection = find(all(env), "ConfigMap", c.envFrom[0].configMapRef.name);
    const allowed = connection.data.DJANGO_ALLOWED_HOSTS.split(",");
    expect(allowed).toContain(find(all(env), "Ingress", "ringlet-web").spec.rules[0].host);
    for (const probe of [c.livenessProbe, c.readinessProbe]) {
      const host = probe.httpGet.httpHeaders.find((h: Obj) => h.name === "Host").value;
      expect(allowed).toContain(host);
    }
    expect(web.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(web.spec.replicas).toBeUndefined();
    const svc = find(all(env), "Service", "ringlet-web");
    expect(svc.spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http" }]);
  });

  it("keeps no Secret with data in git: each environment reads its own keys through the cluster-wide store", () => {
    for (const o of all(env)) if (o.kind === "Secret") expect(o.data ?? o.stringData).toBeUndefined();
    const external = all(env).filter((o) => o.kind === "ExternalSecret");
    expect(external.map((o) => o.spec.target.name).sort()).toEqual(["ringlet-db-credentials", "ringlet-django", "ringlet-integrations"]);
    for (const o of external) {
      expect(o.spec.secretStoreRef).toEqual({ kind: "ClusterSecretStore", name: "ringlet" });
      for (const d of o.spec.data) expect(d.remoteRef.key).toMatch(new RegExp(`^ringlet/${env}/`));
    }
  });

  it("has an existing target for every autoscaler, with CPU requests", () => {
    const hpas = all(env).filter((o) => o.kind === "HorizontalPodAutoscaler");
    expect(hpas.map((h) => h.metadata.name).sort()).toEqual(["ringlet-web", "ringlet-worker"]);
    for (const h of hpas) {
      const target = find(all(env), h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name);
      for (const c of target.spec.template.spec.containers) expect(c.resources.requests.cpu).toBeDefined();
    }
  });

  it("never blocks a node drain at minimum scale", () => {
    for (const pdb of all(env).filter((o) => o.kind === "PodDisruptionBudget")) {
      expect(pdb.spec.maxUnavailable).toBeGreaterThanOrEqual(1);
      expect(pdb.spec.minAvailable).toBeUndefined();
    }
  });

  it("serves TLS on the environment's host", () => {
    const ing = find(all(env), "Ingress", "ringlet-web");
    const host = env === "prod" ? "ringlet.example.com" : `${env}.ringlet.example.com`;
    expect(ing.spec.rules[0].host).toBe(host);
    expect(ing.spec.tls[0].hosts).toEqual([host]);
  });

  it("lets PostgreSQL and Redis accept only Ringlet's own pods, and protects data from prune and delete", () => {
    const data = rendered.get(env)!.data;
    for (const name of env === "prod" ? ["ringlet-redis"] : ["ringlet-postgres", "ringlet-redis"]) {
      const np = find(data, "NetworkPolicy", name);
      expect(np.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { "app.kubernetes.io/part-of": "ringlet" } } }], ports: [expect.objectContaining({ protocol: "TCP" })] }]);
    }
    const redis = find(data, "StatefulSet", "ringlet-redis");
    expect(redis.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(["--appendonly", "yes"]));
    expect(redis.metadata.annotations["argocd.argoproj.io/sync-options"]).toBe("Prune=false,Delete=false");
    expect(redis.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    // Ringlet's own pods carry the label the policies allow.
    for (const o of all(env)) {
      const template = o.kind === "CronJob" ? o.spec.jobTemplate.spec.template : o.spec?.template;
      if (podSpecOf(o)) expect(template.metadata.labels["app.kubernetes.io/part-of"]).toBe("ringlet");
    }
  });

  it("buffers uploads on disk, room for one Ingress body per gunicorn worker", () => {
    const web = find(all(env), "Deployment", "ringlet-web").spec.template.spec;
    const c = web.containers.find((x: Obj) => x.name === "web");
    const dir = c.env.find((e: Obj) => e.name === "FILE_UPLOAD_TEMP_DIR").value;
    const mount = c.volumeMounts.find((m: Obj) => m.mountPath === dir);
    const volume = web.volumes.find((v: Obj) => v.name === mount.name);
    expect(volume.emptyDir.medium).toBeUndefined();
    const body = find(all(env), "Ingress", "ringlet-web").metadata.annotations["nginx.ingress.kubernetes.io/proxy-body-size"];
    expect(body).toBe("512m");
    const config = find(all(env), "ConfigMap", c.envFrom[1].configMapRef.name);
    expect(bytes(volume.emptyDir.sizeLimit)).toBeGreaterThanOrEqual(512 * 1024 ** 2 * Number(config.data.GUNICORN_WORKERS));
  });

  it("serves static files from the volume collectstatic wrote to, and media from Azure Blob Storage", () => {
    const web = find(all(env), "Deployment", "ringlet-web").spec.template.spec;
    const collect = web.initContainers.find((x: Obj) => x.name === "collectstatic");
    const server = web.containers.find((x: Obj) => x.name === "web");
    const root = (x: Obj) => x.env.find((e: Obj) => e.name === "DJANGO_STATIC_ROOT").value;
    expect(root(collect)).toBe(root(server));
    const volumeAt = (x: Obj) => x.volumeMounts.find((m: Obj) => m.mountPath === root(x)).name;
    expect(volumeAt(collect)).toBe(volumeAt(server));
    // No shared media volume any more: uploads go to the object storage the seeds name.
    for (const name of ["ringlet-web", "ringlet-worker"]) {
      for (const v of find(all(env), "Deployment", name).spec.template.spec.volumes) expect(v.persistentVolumeClaim).toBeUndefined();
    }
    expect(find(all(env), "ConfigMap", "ringlet-connection").data.AZURE_STORAGE_CONTAINER).toBe("media");
    const integrations = find(all(env), "ExternalSecret", "ringlet-integrations");
    expect(integrations.spec.data.map((d: Obj) => d.secretKey).sort()).toEqual([
      "AZURE_STORAGE_CONNECTION_STRING",
      "EMAIL_HOST",
      "EMAIL_HOST_PASSWORD",
      "EMAIL_HOST_USER",
      "GOOGLE_OAUTH_CLIENT_ID",
      "GOOGLE_OAUTH_CLIENT_SECRET",
    ]);
  });

  it("gives the hook and the init container every credential the workloads import, and trusts the proxy's TLS header", () => {
    const secretsOf = (x: Obj) => new Set([...(x.envFrom ?? []).map((e: Obj) => e.secretRef?.name), ...(x.env ?? []).map((e: Obj) => e.valueFrom?.secretKeyRef?.name)].filter(Boolean));
    const web = find(all(env), "Deployment", "ringlet-web").spec.template.spec;
    const migrate = find(all(env), "Job", "ringlet-migrate").spec.template.spec.containers[0];
    const expected = [...secretsOf(web.containers[0])].sort();
    expect(expected).toEqual(["ringlet-db-credentials", "ringlet-django", "ringlet-integrations", "ringlet-redis"]);
    expect([...secretsOf(web.initContainers[0])].sort()).toEqual(expected);
    expect([...secretsOf(migrate)].sort()).toEqual(expected);
    const connection = find(all(env), "ConfigMap", "ringlet-connection").data;
    const host = find(all(env), "Ingress", "ringlet-web").spec.rules[0].host;
    expect(connection.CSRF_TRUSTED_ORIGINS).toBe(`https://${host}`);
    expect(connection.DJANGO_SECURE_PROXY_SSL_HEADER).toBe("HTTP_X_FORWARDED_PROTO,https");
    expect(connection.DJANGO_SETTINGS_MODULE).toBe("ringlet.settings");
  });

  it("keeps beat's schedule in the database, and restarts a hung worker or beat", () => {
    const beat = find(all(env), "Deployment", "ringlet-beat").spec.template.spec.containers[0];
    expect(beat.args).toContain("--scheduler=django_celery_beat.schedulers:DatabaseScheduler");
    expect(beat.args.some((a: string) => a.startsWith("--schedule="))).toBe(false);
    const heartbeat = beat.env.find((e: Obj) => e.name === "CELERY_BEAT_HEARTBEAT_FILE").value;
    expect(beat.volumeMounts.some((m: Obj) => heartbeat.startsWith(`${m.mountPath}/`))).toBe(true);
    expect(beat.livenessProbe.exec.command.join(" ")).toContain("$CELERY_BEAT_HEARTBEAT_FILE");
    const worker = find(all(env), "Deployment", "ringlet-worker").spec.template.spec.containers[0];
    // The worker's own node name: celery@<hostname>, the pod's name.
    expect(worker.livenessProbe.exec.command.join(" ")).toMatch(/inspect ping --destination=celery@\$HOSTNAME --timeout=\d+/);
    expect(worker.livenessProbe.timeoutSeconds).toBeGreaterThan(10);
  });

  it("denies every connection by default, then admits the ingress controller, DNS, the data services and outside HTTPS and SMTP", () => {
    const policies = rendered.get(env)!.data.filter((o) => o.kind === "NetworkPolicy");
    const deny = find(policies, "NetworkPolicy", "ringlet-default-deny");
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    const dns = find(policies, "NetworkPolicy", "ringlet-dns").spec.egress[0];
    expect(dns.ports).toEqual([{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }]);
    expect(find(policies, "NetworkPolicy", "ringlet-web").spec.ingress[0].from[0].namespaceSelector).toEqual({ matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } });
    const outside = find(policies, "NetworkPolicy", "ringlet-external-services").spec;
    expect(outside.egress).toEqual([{ ports: [{ protocol: "TCP", port: 443 }, { protocol: "TCP", port: 587 }] }]);
    expect(outside.podSelector.matchExpressions[0].values).toEqual(["web", "worker"]);
    expect(policies.some((p) => p.metadata.name === "ringlet-managed-postgres")).toBe(env === "prod");
  });
});

/** A Kubernetes memory quantity in bytes (the units these manifests use). */
function bytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q)!;
  return Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 } as Record<string, number>)[m[2] ?? ""]!;
}

it("ships a ClusterSecretStore example that only the spec's namespaces may use", async () => {
  const { ClusterSecretStore } = await import("@kubernetes-models/external-secrets/external-secrets.io/v1/ClusterSecretStore");
  const store = parseAllDocuments(await readFile(join(FIXTURE_ROOT, "examples", "cluster-secret-store.yaml"), "utf8"))[0]!.toJS() as Obj;
  new ClusterSecretStore(store as never).validate();
  const spec = parseAllDocuments(await readFile(join(FIXTURE_ROOT, "overlays", "environments.yaml"), "utf8"))[0]!.toJS() as Obj;
  // The store every rendered ExternalSecret names, usable from exactly the spec's namespaces.
  for (const env of ENVS) for (const o of all(env)) if (o.kind === "ExternalSecret") expect(o.spec.secretStoreRef).toEqual({ kind: "ClusterSecretStore", name: store.metadata.name });
  expect(store.spec.conditions).toEqual([{ namespaces: Object.values(spec.environments).map((e: any) => e.namespace) }]);
});

it("runs PostgreSQL in-cluster in dev and staging, and uses the managed database in prod", () => {
  for (const env of ["dev", "staging"]) {
    const pg = find(rendered.get(env)!.data, "StatefulSet", "ringlet-postgres");
    expect(pg.spec.replicas).toBe(1);
    expect(find(rendered.get(env)!.data, "Service", "ringlet-postgres-headless").spec.clusterIP).toBe("None");
    expect(pg.metadata.annotations["argocd.argoproj.io/sync-options"]).toBe("Prune=false,Delete=false");
    expect(pg.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(find(rendered.get(env)!.data, "ConfigMap", "ringlet-connection").data.DATABASE_HOST).toBe("ringlet-postgres");
  }
  const prod = rendered.get("prod")!.data;
  expect(prod.some((o) => o.metadata.name === "ringlet-postgres")).toBe(false);
  expect(find(prod, "ConfigMap", "ringlet-connection").data.DATABASE_HOST).not.toBe("ringlet-postgres");
});

it("scales prod web 3-10 and worker 2-6, and dev small", () => {
  const bounds = (env: string, name: string) => {
    const h = find(all(env), "HorizontalPodAutoscaler", name);
    return [h.spec.minReplicas, h.spec.maxReplicas];
  };
  expect(bounds("prod", "ringlet-web")).toEqual([3, 10]);
  expect(bounds("prod", "ringlet-worker")).toEqual([2, 6]);
  expect(bounds("dev", "ringlet-web")[1]).toBeLessThanOrEqual(2);
  const web = find(all("prod"), "HorizontalPodAutoscaler", "ringlet-web");
  // CPU only: gunicorn's memory does not fall with load, a memory target would keep web scaled out.
  expect(web.spec.metrics.map((m: Obj) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([["cpu", 70]]);
  expect(web.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
  const worker = find(all("prod"), "HorizontalPodAutoscaler", "ringlet-worker");
  expect(worker.spec.metrics.map((m: Obj) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([["cpu", 75]]);
});

describe("Argo CD applications", () => {
  it("sync dev and staging automatically with prune and self-heal, prod by hand", () => {
    for (const a of applications) {
      const env = /^overlays\/([^/]+)/.exec(a.spec.source.path)![1];
      if (env === "prod") expect(a.spec.syncPolicy.automated).toBeUndefined();
      else expect(a.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
      // Either may create the namespace (whichever syncs first); only the data Application labels it.
      const data = a.spec.source.path.endsWith("/data");
      expect(a.spec.syncPolicy.syncOptions.includes("CreateNamespace=true")).toBe(true);
      expect(a.spec.syncPolicy.managedNamespaceMetadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe(data ? "restricted" : undefined);
      // prod is protected from the root's prune; dev and staging are not.
      expect(a.metadata.annotations["argocd.argoproj.io/sync-options"]).toBe(env === "prod" ? "Prune=false,Delete=false" : undefined);
      expect(a.spec.syncPolicy.retry.backoff).toEqual({ duration: "10s", factor: 2, maxDuration: "5m" });
      expect(a.metadata.finalizers).toEqual(["resources-finalizer.argocd.argoproj.io"]);
      expect(a.metadata.namespace).toBe("argocd");
    }
  });
  it("are confined by a project pinned to this repository, Ringlet's namespaces and the kinds they render", () => {
    expect(project.spec.sourceRepos).toEqual([applications[0]!.spec.source.repoURL]);
    expect(project.spec.destinations.map((d: Obj) => d.namespace).sort()).toEqual(["ringlet-dev", "ringlet-prod", "ringlet-staging"]);
    expect(project.spec.clusterResourceWhitelist).toEqual([{ group: "", kind: "Namespace" }]);
    const allowed = new Set(project.spec.namespaceResourceWhitelist.map((k: Obj) => `${k.group}/${k.kind}`));
    for (const env of ENVS) for (const o of all(env)) expect(allowed.has(`${o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : ""}/${o.kind}`), `${o.kind}`).toBe(true);
  });
});
