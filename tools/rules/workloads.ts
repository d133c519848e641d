// Shared views of rendered objects that several rule families need: the pod specs inside
// workloads, their containers with field paths, and label-selector matching.
import type { KubeObject } from "../core/yaml.ts";
import type { RenderedObject } from "./types.ts";

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort?: number }[];
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  securityContext?: Record<string, unknown>;
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  envFrom?: { prefix?: string; configMapRef?: { name?: string; optional?: boolean }; secretRef?: { name?: string; optional?: boolean } }[];
  env?: { name: string; value?: string; valueFrom?: { configMapKeyRef?: { name?: string; key?: string; optional?: boolean }; secretKeyRef?: { name?: string; key?: string; optional?: boolean } } }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
}

export interface Volume {
  name: string;
  configMap?: { name?: string; optional?: boolean };
  secret?: { secretName?: string; optional?: boolean };
  persistentVolumeClaim?: { claimName?: string };
  projected?: { sources?: { configMap?: { name?: string; optional?: boolean }; secret?: { name?: string; optional?: boolean } }[] };
  emptyDir?: { medium?: string; sizeLimit?: string | number };
  downwardAPI?: unknown;
}

export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  securityContext?: Record<string, unknown>;
  volumes?: Volume[];
}

export interface PodTemplate {
  ro: RenderedObject;
  /** Field path of the pod spec inside the object. */
  path: string;
  spec: PodSpec;
  labels: Record<string, string>;
}

const TEMPLATE_PATHS: Record<string, string[]> = {
  Deployment: ["spec", "template"],
  StatefulSet: ["spec", "template"],
  DaemonSet: ["spec", "template"],
  ReplicaSet: ["spec", "template"],
  Job: ["spec", "template"],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
  // Argo Rollouts: a Rollout carries its pod template like a Deployment (unless it points at a
  // Deployment's with spec.workloadRef, whose template the rules then see on the Deployment).
  Rollout: ["spec", "template"],
};

/** Kinds whose spec.selector owns the pods of their template (controllers that would fight over shared pods). */
export const POD_CONTROLLERS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Rollout"]);

function dig(value: unknown, keys: string[]): unknown {
  let cur = value;
  for (const key of keys) {
    if (!cur || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export function podTemplate(ro: RenderedObject): PodTemplate | undefined {
  const kind = ro.object.kind ?? "";
  if (kind === "Pod") {
    return { ro, path: "spec", spec: (ro.object.spec ?? {}) as PodSpec, labels: ro.object.metadata?.labels ?? {} };
  }
  const keys = TEMPLATE_PATHS[kind];
  if (!keys) return undefined;
  const template = dig(ro.object, keys) as { metadata?: { labels?: Record<string, string> }; spec?: PodSpec } | undefined;
  if (!template) return undefined;
  return { ro, path: `${keys.join(".")}.spec`, spec: template.spec ?? {}, labels: template.metadata?.labels ?? {} };
}

export function podTemplates(objects: RenderedObject[]): PodTemplate[] {
  return objects.map(podTemplate).filter((t): t is PodTemplate => t !== undefined);
}

/** Every container (init containers too) with its field path. */
export function containersOf(t: PodTemplate): { container: Container; path: string; init: boolean }[] {
  const main = (t.spec.containers ?? []).map((container, i) => ({ container, path: `${t.path}.containers[${i}]`, init: false }));
  const init = (t.spec.initContainers ?? []).map((container, i) => ({ container, path: `${t.path}.initContainers[${i}]`, init: true }));
  return [...main, ...init];
}

export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** matchLabels plus the simple matchExpressions (In, NotIn, Exists, DoesNotExist). */
export function labelSelectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  const s = selector as { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | undefined;
  if (!s) return false;
  const exprs = s.matchExpressions ?? [];
  if (!s.matchLabels && exprs.length === 0) return true;
  if (s.matchLabels && !Object.entries(s.matchLabels).every(([k, v]) => labels[k] === v)) return false;
  return exprs.every((e) => {
    const has = e.key in labels;
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(labels[e.key]!);
      case "NotIn":
        return !has || !(e.values ?? []).includes(labels[e.key]!);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        return false;
    }
  });
}

export function findObject(objects: RenderedObject[] | EnvObjects, kind: string, name: string): RenderedObject | undefined {
  if (objects instanceof EnvObjects) return objects.find(kind, name);
  return objects.find((o) => o.object.kind === kind && o.object.metadata?.name === name);
}

/**
 * One environment's objects with the lookups rules repeat per pod, container or reference (by
 * kind and name, the pod templates, the ExternalSecret writing a Secret), each built on first use:
 * a scan of the objects per lookup made those rules objects x references per environment. A rule
 * builds one per environment per call, so rules stay pure functions of their context (nothing
 * outlives the call: tests edit a context between calls). Each lookup answers what the scan it
 * replaces answered: the first matching object in order.
 */
export class EnvObjects {
  private byKind: Map<unknown, Map<unknown, RenderedObject>> | undefined;
  private templates: PodTemplate[] | undefined;
  private secretWriters: Map<string, RenderedObject> | undefined;
  constructor(readonly objects: RenderedObject[]) {}

  /** The first object of this kind and name. */
  find(kind: string | undefined, name: string | undefined): RenderedObject | undefined {
    if (!this.byKind) {
      this.byKind = new Map();
      for (const o of this.objects) {
        let names = this.byKind.get(o.object.kind);
        if (!names) this.byKind.set(o.object.kind, (names = new Map()));
        const n = o.object.metadata?.name;
        if (!names.has(n)) names.set(n, o);
      }
    }
    return this.byKind.get(kind)?.get(name);
  }

  /** podTemplates(objects), computed once: callers must not change the list. */
  podTemplates(): PodTemplate[] {
    return (this.templates ??= podTemplates(this.objects));
  }

  /** The first ExternalSecret whose createdKeys include Secret/<name>. */
  externalSecretWriting(name: string): RenderedObject | undefined {
    if (!this.secretWriters) {
      this.secretWriters = new Map();
      for (const o of this.objects) {
        if (o.object.kind !== "ExternalSecret") continue;
        for (const key of createdKeys(o.object)) if (key.startsWith("Secret/") && !this.secretWriters.has(key)) this.secretWriters.set(key, o);
      }
    }
    return this.secretWriters.get(`Secret/${name}`);
  }
}

export function envObjects(objects: RenderedObject[] | EnvObjects): EnvObjects {
  return objects instanceof EnvObjects ? objects : new EnvObjects(objects);
}

export function annotation(object: KubeObject, key: string): string | undefined {
  return object.metadata?.annotations?.[key];
}

/** Splits an image reference into repository, tag and digest. */
export function parseImage(ref: string): { repository: string; tag?: string; digest?: string } {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  let tag: string | undefined;
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { repository: rest, tag, digest };
}

/** The names of ConfigMaps, Secrets and claims a pod reads, with where it reads them. */
export function podReferences(t: PodTemplate): { kind: "ConfigMap" | "Secret" | "PersistentVolumeClaim"; name: string; path: string; optional: boolean }[] {
  const refs: { kind: "ConfigMap" | "Secret" | "PersistentVolumeClaim"; name: string; path: string; optional: boolean }[] = [];
  for (const { container, path } of containersOf(t)) {
    (container.envFrom ?? []).forEach((e, i) => {
      if (e.configMapRef?.name) refs.push({ kind: "ConfigMap", name: e.configMapRef.name, path: `${path}.envFrom[${i}].configMapRef.name`, optional: Boolean(e.configMapRef.optional) });
      if (e.secretRef?.name) refs.push({ kind: "Secret", name: e.secretRef.name, path: `${path}.envFrom[${i}].secretRef.name`, optional: Boolean(e.secretRef.optional) });
    });
    (container.env ?? []).forEach((e, i) => {
      const cm = e.valueFrom?.configMapKeyRef;
      const sec = e.valueFrom?.secretKeyRef;
      if (cm?.name) refs.push({ kind: "ConfigMap", name: cm.name, path: `${path}.env[${i}].valueFrom.configMapKeyRef.name`, optional: Boolean(cm.optional) });
      if (sec?.name) refs.push({ kind: "Secret", name: sec.name, path: `${path}.env[${i}].valueFrom.secretKeyRef.name`, optional: Boolean(sec.optional) });
    });
  }
  (t.spec.volumes ?? []).forEach((v, i) => {
    const at = `${t.path}.volumes[${i}]`;
    if (v.configMap?.name) refs.push({ kind: "ConfigMap", name: v.configMap.name, path: `${at}.configMap.name`, optional: Boolean(v.configMap.optional) });
    if (v.secret?.secretName) refs.push({ kind: "Secret", name: v.secret.secretName, path: `${at}.secret.secretName`, optional: Boolean(v.secret.optional) });
    if (v.persistentVolumeClaim?.claimName) refs.push({ kind: "PersistentVolumeClaim", name: v.persistentVolumeClaim.claimName, path: `${at}.persistentVolumeClaim.claimName`, optional: false });
    (v.projected?.sources ?? []).forEach((s, j) => {
      if (s.configMap?.name) refs.push({ kind: "ConfigMap", name: s.configMap.name, path: `${at}.projected.sources[${j}].configMap.name`, optional: Boolean(s.configMap.optional) });
      if (s.secret?.name) refs.push({ kind: "Secret", name: s.secret.name, path: `${at}.projected.sources[${j}].secret.name`, optional: Boolean(s.secret.optional) });
    });
  });
  return refs;
}

/**
 * The Kind/name keys an object brings into existence: itself, and the Secret its operator writes.
 * An ExternalSecret writes spec.target.name (default: its own name) unless its creationPolicy is
 * Merge or None, which only update a Secret that must already exist (external-secrets docs,
 * "Lifecycle"); a SealedSecret's controller always names the Secret after the SealedSecret
 * (sealed-secrets pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go, SetName(smeta.GetName())).
 */
export function createdKeys(object: KubeObject): string[] {
  const name = object.metadata?.name;
  if (!name) return [];
  const keys = [`${object.kind}/${name}`];
  if (object.kind === "ExternalSecret") {
    const target = (object.spec as { target?: { name?: string; creationPolicy?: string } } | undefined)?.target;
    if (target?.creationPolicy !== "Merge" && target?.creationPolicy !== "None") keys.push(`Secret/${target?.name ?? name}`);
  }
  if (object.kind === "SealedSecret" && object.apiVersion?.startsWith("bitnami.com/")) keys.push(`Secret/${name}`);
  // cert-manager: a Certificate writes spec.secretName; its ingress-shim makes one for each TLS
  // entry of an Ingress annotated with an issuer (cert-manager docs, "Securing Ingress Resources").
  if (object.kind === "Certificate" && object.apiVersion?.startsWith("cert-manager.io/")) {
    const secretName = (object.spec as { secretName?: string } | undefined)?.secretName;
    if (secretName) keys.push(`Secret/${secretName}`);
  }
  const annotations = object.metadata?.annotations ?? {};
  if (object.kind === "Ingress" && (annotations["cert-manager.io/cluster-issuer"] || annotations["cert-manager.io/issuer"])) {
    for (const tls of ((object.spec as { tls?: { secretName?: string }[] } | undefined)?.tls ?? [])) if (tls?.secretName) keys.push(`Secret/${tls.secretName}`);
  }
  return keys;
}

/** What scales a workload: an HPA or a KEDA ScaledObject naming it, with its minimum replica count. */
export function scalersOf(objects: RenderedObject[], target: RenderedObject): { ro: RenderedObject; min: number }[] {
  const out: { ro: RenderedObject; min: number }[] = [];
  for (const o of objects) {
    const spec = o.object.spec as { scaleTargetRef?: { kind?: string; name?: string }; minReplicas?: number; minReplicaCount?: number } | undefined;
    const ref = spec?.scaleTargetRef;
    if (!ref || ref.name !== target.object.metadata?.name) continue;
    if (o.object.kind === "HorizontalPodAutoscaler" && ref.kind === target.object.kind) out.push({ ro: o, min: spec.minReplicas ?? 1 });
    // KEDA: scaleTargetRef.kind defaults to Deployment, minReplicaCount to 0 (keda.sh_scaledobjects.yaml).
    if (o.object.kind === "ScaledObject" && (ref.kind ?? "Deployment") === target.object.kind) out.push({ ro: o, min: spec.minReplicaCount ?? 0 });
  }
  return out;
}

/** Workloads whose pods run until stopped (as opposed to Jobs, CronJobs and hooks). */
export const LONG_RUNNING = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Rollout"]);

/** One environment variable of a container: where it is set, and its value when git knows it. */
export interface EnvVar {
  name: string;
  /** Field path of the entry that sets it (env[i] or envFrom[i]). */
  path: string;
  /** The value, for literals and ConfigMap keys; undefined for Secrets. */
  value?: string;
}

function configMapData(index: EnvObjects, name: string | undefined): Record<string, unknown> | undefined {
  return name ? (index.find("ConfigMap", name)?.object.data as Record<string, unknown> | undefined) : undefined;
}

/** A Secret's keys from the rendered Secret or the ExternalSecret writing it; open when its dataFrom hides some. */
function secretKeysOf(index: EnvObjects, name: string | undefined): { keys: string[]; open: boolean } | undefined {
  if (!name) return undefined;
  const secret = index.find("Secret", name)?.object;
  if (secret) return { keys: [...Object.keys((secret.data as object | undefined) ?? {}), ...Object.keys((secret.stringData as object | undefined) ?? {})], open: false };
  const external = index.externalSecretWriting(name)?.object;
  if (!external) return undefined;
  const spec = (external.spec ?? {}) as { data?: { secretKey?: string }[]; dataFrom?: unknown[] };
  return { keys: (spec.data ?? []).map((d) => d.secretKey ?? "").filter(Boolean), open: Boolean(spec.dataFrom?.length) };
}

/**
 * The environment a container starts with, as the kubelet builds it: envFrom in order (a later
 * source wins), then env (wins over envFrom). ConfigMaps are read from the rendered objects;
 * a Secret's keys from the rendered Secret or the ExternalSecret that writes it. `open` is true
 * when a source's keys cannot be known here (a Secret nothing renders, an ExternalSecret's dataFrom).
 */
export function containerEnv(container: Container, path: string, objects: RenderedObject[] | EnvObjects): { vars: Map<string, EnvVar>; open: boolean } {
  const vars = new Map<string, EnvVar>();
  let open = false;
  const index = envObjects(objects);
  // (Lookups are module functions, not closures made per call: this runs for every container.)
  (container.envFrom ?? []).forEach((source, i) => {
    const at = `${path}.envFrom[${i}]`;
    const prefix = source.prefix ?? "";
    if (source.configMapRef) {
      const data = configMapData(index, source.configMapRef.name);
      if (!data) open ||= !source.configMapRef.optional;
      for (const [k, v] of Object.entries(data ?? {})) vars.set(prefix + k, { name: prefix + k, path: at, value: String(v) });
    }
    if (source.secretRef) {
      const found = secretKeysOf(index, source.secretRef.name);
      if (found?.open) open = true;
      const keys = found?.keys;
      if (!keys) open ||= !source.secretRef.optional;
      for (const k of keys ?? []) vars.set(prefix + k, { name: prefix + k, path: at });
    }
  });
  (container.env ?? []).forEach((e, i) => {
    const at = `${path}.env[${i}]`;
    const cm = e.valueFrom?.configMapKeyRef;
    const value = cm ? configMapData(index, cm.name)?.[cm.key ?? ""] : e.value;
    vars.set(e.name, { name: e.name, path: at, value: value === undefined || e.valueFrom?.secretKeyRef ? undefined : String(value) });
  });
  return { vars, open };
}

function norm(p: string): string {
  return p.replace(/\/+$/, "") || "/";
}

/** The volume mounted at the longest mountPath that contains `dir`, with the path inside it. */
export function mountFor(t: PodTemplate, container: Container, dir: string): { mount: NonNullable<Container["volumeMounts"]>[number]; volume?: Volume; rest: string } | undefined {
  const target = norm(dir);
  let best: NonNullable<Container["volumeMounts"]>[number] | undefined;
  for (const m of container.volumeMounts ?? []) {
    const mp = norm(m.mountPath);
    if ((target === mp || target.startsWith(mp === "/" ? "/" : `${mp}/`)) && (!best || mp.length > norm(best.mountPath).length)) best = m;
  }
  if (!best) return undefined;
  return { mount: best, volume: (t.spec.volumes ?? []).find((v) => v.name === best!.name), rest: target.slice(norm(best.mountPath).length) };
}
