// What a full Argo CD sync of an environment does, in the order Argo CD does it, for both of the
// environment's Applications (the data layer first: it is its own Application and its own sync).
// Within one sync Argo CD orders by phase (PreSync, Sync, PostSync; SyncFail only on failure),
// then sync wave, then kind, then name (gitops-engine pkg/sync/sync_tasks.go), and it waits for a
// wave to be healthy (a hook Job to complete) before the next. The plan flags whatever would run
// before what it reads exists.
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ToolError, ValidationError } from "../core/errors.ts";
import { paint } from "../core/term.ts";
import { parseYamlStream, type KubeObject } from "../core/yaml.ts";
import { mapLimit, render } from "../render/kustomize.ts";
import { applicationName, applicationWave, isPrimary, layerNames, layerOfDir, overlayDir } from "../spec/model.ts";
import { automated, manualBlocksFindings, projectWaveFindings } from "../rules/app-of-apps.ts";
import { hookPhases } from "../rules/argocd.ts";
import type { Layer, RenderedObject } from "../rules/types.ts";
import { annotation, containersOf, createdKeys, podReferences, podTemplate } from "../rules/workloads.ts";
import type { Spec } from "../spec/schema.ts";
import { formatColumns, type Cell } from "../core/table.ts";
import { HASHED } from "../rules/argocd.ts";
import { syncWave } from "../rules/sync-wave.ts";
import { findStage, stageDestination, stageEnvironment } from "../spec/stages.ts";

export const PHASES = ["PreSync", "Sync", "PostSync", "SyncFail"] as const;
export type Phase = (typeof PHASES)[number];

const PHASE_ORDER: Record<Phase, number> = { PreSync: -1, Sync: 0, PostSync: 1, SyncFail: 2 };

/**
 * Argo CD's kind order (gitops-engine, after Helm's kind sorter); kinds not listed (custom
 * resources such as ExternalSecret) come after all of these.
 */
export const KIND_ORDER = [
  "Namespace",
  "NetworkPolicy",
  "ResourceQuota",
  "LimitRange",
  "PodSecurityPolicy",
  "PodDisruptionBudget",
  "ServiceAccount",
  "Secret",
  "SecretList",
  "ConfigMap",
  "StorageClass",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "CustomResourceDefinition",
  "ClusterRole",
  "ClusterRoleList",
  "ClusterRoleBinding",
  "ClusterRoleBindingList",
  "Role",
  "RoleList",
  "RoleBinding",
  "RoleBindingList",
  "Service",
  "DaemonSet",
  "Pod",
  "ReplicationController",
  "ReplicaSet",
  "Deployment",
  "HorizontalPodAutoscaler",
  "StatefulSet",
  "Job",
  "CronJob",
  "IngressClass",
  "Ingress",
  "APIService",
] as const;

/** Negative for the listed kinds, in their order; 0 (last) for every other kind, as in Argo CD. */
export function kindRank(kind: string): number {
  const i = (KIND_ORDER as readonly string[]).indexOf(kind);
  return i < 0 ? 0 : i - KIND_ORDER.length;
}

const HOOK = "argocd.argoproj.io/hook";
const DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy";
const DEFAULT_DELETE_POLICY = "BeforeHookCreation";

export { syncWave };

export interface SyncStep {
  order: number;
  phase: Phase;
  wave: number;
  kind: string;
  name: string;
  hook: boolean;
  /** For hooks: the delete policies, BeforeHookCreation when none is set. null for other objects. */
  deletePolicies: string[] | null;
}

export interface SkippedObject {
  kind: string;
  name: string;
  reason: string;
}

export interface ApplicationPlan {
  name: string;
  path: string;
  /** Where Argo CD deploys it: "cluster <name>" or "server <url>" (an environment on several clusters: each its own). */
  destination: string;
  layer: Exclude<Layer, "argocd">;
  /** The primary layer's Application (the one whose overlay holds the image tags). */
  primary?: boolean;
  /** The Application's own sync wave among the Applications. */
  syncWave: number;
  automated: boolean;
  steps: SyncStep[];
  /** SyncFail hooks: run only when the sync fails. */
  onFailure: SyncStep[];
  /** Objects a sync does not apply: Skip, PreDelete and PostDelete hooks. */
  skipped: SkippedObject[];
  /** What this sync's PreSync hooks read from an Application synced before it. */
  hookInputs: HookInput[];
}

export interface HookInput {
  /** The hook, as Kind/name. */
  hook: string;
  /** What it reads, as Kind/name (an ExternalSecret's target shows as its Secret). */
  reads: string;
  /** The Application that creates it. */
  from: string;
}

export interface PlanFinding {
  rule: "presync-dependency" | "dependency-order" | "hook-service" | "migration-order" | "project-wave" | "manual-blocks-root";
  application: string;
  object: string;
  path: string;
  message: string;
}

export interface SyncPlan {
  environment: string;
  applications: ApplicationPlan[];
  findings: PlanFinding[];
}

interface Task {
  ro: RenderedObject;
  phase: Phase;
  wave: number;
  kind: string;
  name: string;
  hook: boolean;
}

function compareTasks(a: Task, b: Task): number {
  return PHASE_ORDER[a.phase] - PHASE_ORDER[b.phase] || a.wave - b.wave || kindRank(a.kind) - kindRank(b.kind) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Phase and wave: Argo CD applies one such group at a time and waits for it to be healthy. */
function groupOrder(a: Task, b: Task): number {
  return PHASE_ORDER[a.phase] - PHASE_ORDER[b.phase] || a.wave - b.wave;
}

function groupOf(apiVersion: string | undefined): string {
  return apiVersion?.includes("/") ? apiVersion.split("/")[0]! : "";
}

/**
 * As gitops-engine's adjustDeps: a dependency (a Namespace, a CRD) moves to just before the
 * first task that needs it, taking that task's phase and wave.
 */
function adjustDependencies(tasks: Task[], isDependency: (o: KubeObject) => string | undefined, needs: (o: KubeObject) => string | undefined): void {
  const first = new Map<string, number>();
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i]!;
    const dep = isDependency(task.ro.object);
    if (dep !== undefined) {
      const at = first.get(dep);
      if (at === undefined) continue;
      task.phase = tasks[at]!.phase;
      task.wave = tasks[at]!.wave;
      tasks.splice(i, 1);
      tasks.splice(at, 0, task);
      for (const [key, index] of first) if (index >= at) first.set(key, index + 1);
    } else {
      const key = needs(task.ro.object);
      if (key !== undefined && !first.has(key)) first.set(key, i);
    }
  }
}

/** The tasks of one sync, in Argo CD's order, and what the sync leaves out. */
export function orderSync(objects: RenderedObject[]): { tasks: Task[]; skipped: SkippedObject[] } {
  const tasks: Task[] = [];
  const skipped: SkippedObject[] = [];
  for (const ro of objects) {
    const kind = ro.object.kind ?? "";
    const name = ro.object.metadata?.name ?? "";
    const phases = hookPhases(ro);
    const wave = syncWave(ro.object);
    if (phases.length === 0) {
      tasks.push({ ro, phase: "Sync", wave, kind, name, hook: false });
      continue;
    }
    for (const phase of phases) {
      if ((PHASES as readonly string[]).includes(phase)) tasks.push({ ro, phase: phase as Phase, wave, kind, name, hook: true });
    }
    const other = phases.filter((p) => !(PHASES as readonly string[]).includes(p));
    if (other.length && other.length === phases.length) skipped.push({ kind, name, reason: other.includes("Skip") ? "Skip hook: never applied" : `${other.join(", ")} hook: runs on deletion, not on sync` });
  }
  tasks.sort(compareTasks);
  adjustDependencies(
    tasks,
    (o) => (o.kind === "Namespace" && groupOf(o.apiVersion) === "" ? o.metadata?.name : undefined),
    (o) => o.metadata?.namespace || undefined,
  );
  adjustDependencies(
    tasks,
    (o) => {
      if (o.kind !== "CustomResourceDefinition") return undefined;
      const spec = o.spec as { group?: string; names?: { kind?: string } } | undefined;
      return spec?.group && spec.names?.kind ? `${spec.group}/${spec.names.kind}` : undefined;
    },
    (o) => `${groupOf(o.apiVersion)}/${o.kind}`,
  );
  return { tasks, skipped };
}

function deletePolicies(object: KubeObject): string[] {
  const set = (annotation(object, DELETE_POLICY) ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  return set.length ? set : [DEFAULT_DELETE_POLICY];
}

function stepsOf(tasks: Task[]): SyncStep[] {
  return tasks.map((t, i) => ({
    order: i + 1,
    phase: t.phase,
    wave: t.wave,
    kind: t.kind,
    name: t.name,
    hook: t.hook,
    deletePolicies: t.hook ? deletePolicies(t.ro.object) : null,
  }));
}


const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod", "CronJob", "Job"]);

function objectId(t: { kind: string; name: string }): string {
  return `${t.kind}/${t.name}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** What a sync creates ("Kind/name", an ExternalSecret's target Secret too) and the first task that creates it. */
function createdBy(tasks: Task[]): Map<string, Task> {
  const creates = new Map<string, Task>();
  for (const t of tasks) {
    if (t.phase === "SyncFail") continue;
    for (const key of createdKeys(t.ro.object)) if (!creates.has(key)) creates.set(key, t);
  }
  return creates;
}

/** What the PreSync hooks of a sync read that an Application synced before it creates. */
function hookInputs(tasks: Task[], earlier: { name: string; creates: Map<string, Task> }[]): HookInput[] {
  const out: HookInput[] = [];
  for (const t of tasks.filter((x) => x.hook && x.phase === "PreSync")) {
    const template = podTemplate(t.ro);
    if (!template) continue;
    for (const ref of podReferences(template)) {
      const key = `${ref.kind}/${ref.name}`;
      const from = earlier.find((e) => e.creates.has(key));
      if (from && !out.some((o) => o.hook === objectId(t) && o.reads === key)) out.push({ hook: objectId(t), reads: key, from: from.name });
    }
  }
  return out;
}

/** Everything of one Application's sync that would run before what it reads exists. */
export function syncFindings(application: string, tasks: Task[], spec: Spec): PlanFinding[] {
  const findings: PlanFinding[] = [];
  const applied = tasks.filter((t) => t.phase !== "SyncFail");
  const creates = createdBy(applied);
  const add = (rule: PlanFinding["rule"], t: Task, path: string, message: string) => findings.push({ rule, application, object: objectId(t), path, message });

  for (const t of applied) {
    const template = podTemplate(t.ro);
    if (!template) continue;
    const preSync = t.hook && t.phase === "PreSync";
    const who = t.hook ? `the ${t.phase} hook` : `${objectId(t)} (wave ${t.wave})`;
    for (const ref of podReferences(template)) {
      const source = creates.get(`${ref.kind}/${ref.name}`);
      const later = source !== undefined && groupOrder(source, t) > 0 ? source : undefined;
      const hashed = ref.kind === "ConfigMap" && HASHED.test(ref.name);
      if (preSync && (later || hashed)) {
        const parts = [`the PreSync hook reads ${ref.kind} ${ref.name}`];
        if (hashed) parts.push("a generated name with a content hash: a sync that changes its content runs the hook before the ConfigMap of the new name exists");
        if (later) parts.push(`${objectId(later)} is created by this same Application in the ${later.phase} phase (wave ${later.wave}), after the hook: on a first sync the hook finds nothing`);
        parts.push("read it from an Application synced before this one (the data layer), under a stable name");
        add("presync-dependency", t, ref.path, parts.filter(Boolean).join("; "));
      } else if (later) {
        add(
          "dependency-order",
          t,
          ref.path,
          `${who} reads ${ref.kind} ${ref.name}, which ${objectId(later)} creates later in the same sync (${later.phase}, wave ${later.wave}): Argo CD waits for ${t.phase} wave ${t.wave} to be healthy first, and its pods cannot start`,
        );
      }
    }
    if (!t.hook) continue;
    // A hook that addresses a Service of its own sync by name, while that Service comes later.
    const services = applied.filter((s) => s.kind === "Service" && groupOrder(s, t) > 0);
    for (const { container, path } of containersOf(template)) {
      (container.env ?? []).forEach((e, i) => {
        const value = (e as { value?: unknown }).value;
        if (typeof value !== "string") return;
        for (const s of services) {
          if (!new RegExp(`(^|[^A-Za-z0-9-])${escapeRegExp(s.name)}($|[^A-Za-z0-9-])`).test(value)) continue;
          add("hook-service", t, `${path}.env[${i}].value`, `the ${t.phase} hook addresses Service ${s.name} (${e.name}=${value}), which this same sync creates later (${s.phase}, wave ${s.wave}): the name does not resolve yet on a first sync`);
        }
      });
    }
  }

  // The migration hook of the spec (a component whose workload is a Job) must complete before any
  // workload of its Application starts.
  for (const component of Object.values(spec.components).filter((c) => c.workload.kind === "Job")) {
    const jobTasks = applied.filter((t) => t.kind === "Job" && t.name === component.workload.name);
    const job = jobTasks[0];
    if (!job) continue;
    if (!job.hook) {
      add("migration-order", job, `metadata.annotations["${HOOK}"]`, `${objectId(job)} is the spec's hook job but is not an Argo CD hook: it would not run again on the next sync`);
      continue;
    }
    const firstWorkload = applied.find((t) => WORKLOADS.has(t.kind) && t !== job && !(t.kind === "Job" && t.hook));
    if (firstWorkload && groupOrder(job, firstWorkload) >= 0) {
      add(
        "migration-order",
        job,
        `metadata.annotations["${HOOK}"]`,
        `${objectId(job)} (${job.phase}, wave ${job.wave}) does not complete before ${objectId(firstWorkload)} (${firstWorkload.phase}, wave ${firstWorkload.wave}) rolls out: new code would start on the old schema`,
      );
    }
  }
  return findings;
}

interface ApplicationInfo {
  name: string;
  path: string;
  destination: string;
  layer: string;
  primary: boolean;
  syncWave: number;
  automated: boolean;
}

function describeDestination(d: { name?: string; server?: string }): string {
  return d.server ? `server ${d.server}` : d.name ? `cluster ${d.name}` : "(no destination)";
}

/** The environment's Applications as argocd/ declares them, falling back to the generated names. */
async function applicationsOf(root: string, spec: Spec, env: string): Promise<ApplicationInfo[]> {
  const order = layerNames(spec);
  const found: ApplicationInfo[] = [];
  const dir = join(root, "argocd");
  const names = existsSync(dir) ? (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n) && !/^kustomization\.ya?ml$/.test(n)).sort() : [];
  for (const name of names) {
    for (const object of parseYamlStream(await readFile(join(dir, name), "utf8"), `argocd/${name}`)) {
      if (object.kind !== "Application") continue;
      const s = object.spec as { source?: { path?: string }; syncPolicy?: { automated?: unknown }; destination?: { name?: string; server?: string } } | undefined;
      const path = (s?.source?.path ?? "").replace(/^\.\/|\/+$/g, "");
      const layer = layerOfDir(spec, env, path);
      if (!layer || found.some((f) => f.layer === layer)) continue;
      found.push({ name: object.metadata?.name ?? "", path, destination: describeDestination(s?.destination ?? {}), layer, primary: isPrimary(spec, layer), syncWave: syncWave(object), automated: s?.syncPolicy?.automated != null });
    }
  }
  const environment = stageEnvironment(spec, env)!;
  for (const layer of order) {
    const path = overlayDir(spec, env, layer);
    if (found.some((f) => f.layer === layer) || !existsSync(join(root, path, "kustomization.yaml"))) continue;
    const stage = findStage(spec, env);
    found.push({ name: applicationName(spec, env, layer), path, destination: describeDestination(stage ? stageDestination(spec, stage) : {}), layer, primary: isPrimary(spec, layer), syncWave: applicationWave(spec, environment, layer), automated: environment.sync === "auto" });
  }
  // Applications of an app of apps sync in their own wave order, then by name (a tie: the spec's layer order).
  return found.sort((a, b) => a.syncWave - b.syncWave || order.indexOf(a.layer) - order.indexOf(b.layer) || (a.name < b.name ? -1 : 1));
}

export async function planSync(root: string, spec: Spec, env: string): Promise<SyncPlan> {
  const apps = await applicationsOf(root, spec, env);
  if (apps.length === 0) throw new ValidationError([{ file: `overlays/${env}`, path: "", message: "the environment has no overlay to sync" }]);
  const rendered = await Promise.all(apps.map(async (app) => ({ app, text: await render(join(root, app.path), { root }) })));
  const applications: ApplicationPlan[] = [];
  const findings: PlanFinding[] = [];
  const earlier: { name: string; creates: Map<string, Task> }[] = [];
  for (const { app, text } of rendered) {
    const objects: RenderedObject[] = parseYamlStream(text, `kustomize build ${app.path}`).map((object) => ({ env, layer: app.layer, object, source: app.path }));
    const { tasks, skipped } = orderSync(objects);
    findings.push(...syncFindings(app.name, tasks, spec));
    const inputs = hookInputs(tasks, earlier);
    earlier.push({ name: app.name, creates: createdBy(tasks) });
    applications.push({
      name: app.name,
      path: app.path,
      destination: app.destination,
      layer: app.layer,
      primary: app.primary,
      syncWave: app.syncWave,
      automated: app.automated,
      steps: stepsOf(tasks.filter((t) => t.phase !== "SyncFail")),
      onFailure: stepsOf(tasks.filter((t) => t.phase === "SyncFail")),
      skipped,
      hookInputs: inputs,
    });
  }
  return { environment: env, applications, findings };
}

// ------------------------------------------------------------------ first install, across the root

/** One object the root Application syncs, and for a child Application what its own sync does. */
export interface RootChild {
  kind: string;
  name: string;
  /** Applications only: */
  application?: {
    path: string;
    automated: boolean;
    /** PreSync and PostSync hooks (Kind/name), and how many objects the Sync phase applies. */
    preSync: string[];
    sync: number;
    postSync: string[];
    /** Set when the source could not be rendered here (another repository, a failed build). */
    note?: string;
  };
}

export interface RootWave {
  wave: number;
  objects: RootChild[];
}

export interface RootPlan {
  root: string;
  path: string;
  waves: RootWave[];
  /** Manually synced Applications: Missing until an operator syncs them. */
  manual: string[];
  findings: PlanFinding[];
}

/** How an operator syncs a manual Application so that its hooks run and nothing stale stays. */
export const MANUAL_SYNC =
  "Sync, all resources, with Prune: a sync that names resources (the UI names them as soon as one box is unticked) skips every hook, the PreSync migration included (argo-cd controller/sync.go), and one without Prune leaves the previous hashed ConfigMap behind, OutOfSync";

/**
 * What applying the root Application sets off on an empty cluster: the root's own sync of
 * argocd/ (rendered by kustomize, as Argo CD does) wave by wave, and for each child Application
 * its own PreSync, Sync and PostSync. With Argo CD's Application health check a wave waits until
 * its Applications are Healthy (gitops-engine sync_context.go), so a manual Application, Missing
 * until someone syncs it, blocks every later wave: the plan says where.
 */
export async function planFirstInstall(root: string, spec: Spec): Promise<RootPlan> {
  const dir = join(root, "argocd");
  const names = existsSync(dir) ? (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n) && !/^kustomization\.ya?ml$/.test(n)).sort() : [];
  let parent: { object: KubeObject; file: string } | undefined;
  for (const name of names) {
    for (const object of parseYamlStream(await readFile(join(dir, name), "utf8"), `argocd/${name}`)) {
      const path = ((object.spec as { source?: { path?: string } } | undefined)?.source?.path ?? "").replace(/^\.\/|\/+$/g, "");
      if (object.kind === "Application" && path === "argocd" && !parent) parent = { object, file: `argocd/${name}` };
    }
  }
  if (!parent) throw new ValidationError([{ file: "argocd/", path: "", message: "no root Application (an Application whose source path is argocd/) to plan a first install from" }]);
  const rootObject = parent.object;
  const children: RenderedObject[] = parseYamlStream(await render(dir), "kustomize build argocd").map((object) => ({ env: undefined, layer: "argocd", object, source: "argocd" }));
  const { tasks } = orderSync(children);

  const appSpec = (o: KubeObject) => (o.spec ?? {}) as { source?: { repoURL?: string; path?: string } };
  const apps = tasks.filter((t) => t.kind === "Application");
  const syncs = await mapLimit(apps, async (t): Promise<RootChild["application"]> => {
    const source = appSpec(t.ro.object).source ?? {};
    const path = (source.path ?? "").replace(/^\.\/|\/+$/g, "");
    const base = { path, automated: automated(t.ro), preSync: [] as string[], sync: 0, postSync: [] as string[] };
    if (source.repoURL !== spec.repoURL || !existsSync(join(root, path, "kustomization.yaml"))) return { ...base, note: "source outside this repository: not planned here" };
    try {
      const objects = parseYamlStream(await render(join(root, path)), `kustomize build ${path}`).map((object) => ({ env: undefined, layer: "app" as const, object, source: path }));
      const own = orderSync(objects).tasks.filter((x) => x.phase !== "SyncFail");
      return {
        ...base,
        preSync: own.filter((x) => x.phase === "PreSync").map(objectId),
        sync: own.filter((x) => x.phase === "Sync").length,
        postSync: own.filter((x) => x.phase === "PostSync").map(objectId),
      };
    } catch (error) {
      if (error instanceof ToolError) return { ...base, note: `does not build: ${error.message.split("\n")[0]}` };
      throw error;
    }
  });
  const waves: RootWave[] = [];
  for (const t of tasks) {
    let wave = waves.find((w) => w.wave === t.wave);
    if (!wave) waves.push((wave = { wave: t.wave, objects: [] }));
    const i = apps.indexOf(t);
    wave.objects.push({ kind: t.kind, name: t.name, ...(i >= 0 ? { application: syncs[i] } : {}) });
  }
  const family = { parent: { env: undefined, layer: "argocd" as const, object: rootObject, source: parent.file }, children };
  const findings: PlanFinding[] = [...projectWaveFindings(family), ...manualBlocksFindings(family)].map((f) => ({
    rule: f.rule.replace(/^argocd\//, "") as PlanFinding["rule"],
    application: rootObject.metadata?.name ?? "",
    object: f.object ?? "",
    path: f.path,
    message: f.message,
  }));
  return { root: rootObject.metadata?.name ?? "", path: "argocd", waves, manual: apps.filter((t) => !automated(t.ro)).map((t) => t.name), findings };
}

export function rootPlanJson(plan: RootPlan): string {
  const value = {
    root: plan.root,
    path: plan.path,
    waves: plan.waves.map((w) => ({
      wave: w.wave,
      objects: w.objects.map((o) => ({
        kind: o.kind,
        name: o.name,
        application: o.application
          ? { path: o.application.path, automated: o.application.automated, preSync: o.application.preSync, sync: o.application.sync, postSync: o.application.postSync, note: o.application.note ?? null }
          : null,
      })),
    })),
    manual: plan.manual,
    manualSync: plan.manual.length ? MANUAL_SYNC : null,
    findings: plan.findings.map((f) => ({ rule: f.rule, application: f.application, object: f.object, path: f.path, message: f.message })),
  };
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function rootPlanText(plan: RootPlan, colour: boolean): string {
  const out: string[] = [];
  out.push(`${paint("First install", "bold", colour)}: kubectl apply -f ${plan.path}/root.yaml, then ${plan.root} syncs ${plan.path}/ wave by wave, and each Application it creates runs its own sync.`);
  out.push(paint("With Argo CD's Application health check (argocd-cm resource.customizations.health.argoproj.io_Application) the root waits", "dim", colour));
  out.push(paint("after each wave until its Applications are Healthy; without it, it goes on at once and the Applications sync side by side.", "dim", colour));
  const last = plan.waves.length ? plan.waves[plan.waves.length - 1]!.wave : 0;
  for (const w of plan.waves) {
    out.push("");
    out.push(paint(`Wave ${w.wave}`, "bold", colour));
    for (const o of w.objects) {
      const a = o.application;
      if (!a) {
        out.push(`  ${o.kind}/${o.name}`);
        continue;
      }
      const mode = a.automated ? paint("automated: syncs itself once created", "green", colour) : paint("manual: Missing until synced by hand", "yellow", colour);
      out.push(`  ${o.kind}/${paint(o.name, "bold", colour)}  ${a.path}  ${mode}`);
      if (a.note) {
        out.push(paint(`      ${a.note}`, "dim", colour));
        continue;
      }
      const pre = a.preSync.length ? `PreSync ${a.preSync.join(", ")}` : "PreSync: no hooks";
      const post = a.postSync.length ? `PostSync ${a.postSync.join(", ")}` : "PostSync: no hooks";
      out.push(`      ${pre} → Sync ${a.sync} object${a.sync === 1 ? "" : "s"} → ${post}`);
      if (!a.automated) {
        const blocks = w.wave < last ? paint(`with the health check, waves after ${w.wave} wait for it`, "red", colour) : `with the health check, the root's sync ends only once it is synced (nothing waits on it: last wave)`;
        out.push(`      Sync, all resources, with Prune; ${blocks}`);
      }
    }
  }
  out.push("");
  if (plan.manual.length) {
    out.push(`${paint("Synced by hand", "bold", colour)}: ${plan.manual.join(", ")}, in the order \`pnpm plan <env>\` gives. ${MANUAL_SYNC}.`);
    out.push("");
  }
  if (plan.findings.length === 0) {
    out.push(`${paint("ok", "green", colour)}: every project exists before the Applications naming it, and no manual Application holds up a later wave.`);
  } else {
    const count = plan.findings.length;
    out.push(`${paint(`${count} problem${count === 1 ? "" : "s"}`, "red", colour)}: the first install would stall.`);
    for (const f of plan.findings) {
      out.push(`  ${paint(f.object, "bold", colour)} ${paint(f.path, "dim", colour)} ${paint(`[${f.rule}]`, "dim", colour)}`);
      out.push(`    ${f.message}`);
    }
  }
  return `${out.join("\n")}\n`;
}

// ------------------------------------------------------------------ output

/** The documented JSON: keys in a fixed order, whatever the objects were built with. */
export function syncPlanJson(plan: SyncPlan): string {
  const step = (s: SyncStep) => ({ order: s.order, phase: s.phase, wave: s.wave, kind: s.kind, name: s.name, hook: s.hook, deletePolicies: s.deletePolicies });
  const value = {
    environment: plan.environment,
    applications: plan.applications.map((a) => ({
      name: a.name,
      path: a.path,
      destination: a.destination,
      layer: a.layer,
      syncWave: a.syncWave,
      automated: a.automated,
      steps: a.steps.map(step),
      onFailure: a.onFailure.map(step),
      skipped: a.skipped.map((s) => ({ kind: s.kind, name: s.name, reason: s.reason })),
      hookInputs: a.hookInputs.map((h) => ({ hook: h.hook, reads: h.reads, from: h.from })),
      manualSync: a.automated ? null : MANUAL_SYNC,
    })),
    findings: plan.findings.map((f) => ({ rule: f.rule, application: f.application, object: f.object, path: f.path, message: f.message })),
  };
  return `${JSON.stringify(value, null, 2)}\n`;
}

const PHASE_COLOUR = { PreSync: "yellow", Sync: "green", PostSync: "cyan", SyncFail: "red" } as const;

function stepTable(steps: SyncStep[], colour: boolean): string {
  const rows: Cell[][] = steps.map((s) => [
    String(s.order).padStart(String(steps.length).length),
    { text: s.phase, colour: PHASE_COLOUR[s.phase] },
    String(s.wave),
    s.kind,
    { text: s.name, colour: "bold" },
    s.hook ? { text: `hook, delete policy ${s.deletePolicies!.join(", ")}`, colour: "dim" } : "",
  ]);
  return formatColumns(["#", "PHASE", "WAVE", "KIND", "NAME", ""], rows, colour, "    ");
}

export function syncPlanText(plan: SyncPlan, colour: boolean): string {
  const out: string[] = [];
  const n = plan.applications.length;
  out.push(`${paint(`Sync plan for ${plan.environment}`, "bold", colour)}: ${n} Argo CD Application${n === 1 ? "" : "s"}, each its own sync, in the order they sync.`);
  out.push(paint("Within a sync: phase (PreSync → Sync → PostSync), then sync wave, then kind (Argo CD's kind order), then name;", "dim", colour));
  out.push(paint("each wave is applied and must be healthy (a hook Job complete) before the next.", "dim", colour));
  const dataApp = plan.applications.find((a) => !a.primary);
  const mainApp = plan.applications.find((a) => a.primary);
  plan.applications.forEach((app, i) => {
    out.push("");
    const mode = app.automated ? "automated sync" : "manual sync";
    out.push(`${paint(`${i + 1}/${n}  ${app.name}`, "bold", colour)}  ${app.path}  ${paint(`(to ${app.destination}, Application sync wave ${app.syncWave}, ${mode})`, "dim", colour)}`);
    if (!app.primary && mainApp) {
      const how = app.automated ? "Argo CD syncs it on its own" : `sync it before ${mainApp.name} when it changed`;
      const where = app.syncWave < mainApp.syncWave ? "one wave earlier under the root Application" : "in the same wave under the root Application";
      out.push(`    The ${app.layer} layer: a separate Application and a separate sync, ${where} (${how}).`);
    } else if (app.primary && dataApp) {
      out.push(`    May sync at the same time as ${dataApp.name} (always, without Argo CD's Application health check): its hook waits for what it reads.`);
    }
    if (!app.automated) out.push(`    ${paint("By hand", "yellow", colour)}: ${MANUAL_SYNC}.`);
    const byHook = new Map<string, HookInput[]>();
    for (const h of app.hookInputs) byHook.set(h.hook, [...(byHook.get(h.hook) ?? []), h]);
    for (const [hook, inputs] of byHook) {
      const from = [...new Set(inputs.map((i) => i.from))].join(", ");
      out.push(`    Its PreSync hook ${hook} reads ${inputs.map((i) => i.reads).join(", ")} from ${from}, another Application: never created by this sync.`);
    }
    out.push("");
    out.push(app.steps.length ? stepTable(app.steps, colour).trimEnd() : "    (nothing to apply)");
    if (app.onFailure.length) {
      out.push("");
      out.push(`    ${paint("On failure", "red", colour)} (SyncFail hooks, only when the sync fails):`);
      out.push(stepTable(app.onFailure, colour).trimEnd());
    } else {
      out.push(paint("    On failure (SyncFail): no hooks.", "dim", colour));
    }
    for (const s of app.skipped) out.push(paint(`    Not applied: ${s.kind}/${s.name} (${s.reason}).`, "dim", colour));
  });
  out.push("");
  if (plan.findings.length === 0) {
    out.push(`${paint("ok", "green", colour)}: nothing runs before what it reads exists.`);
  } else {
    const count = plan.findings.length;
    out.push(`${paint(`${count} problem${count === 1 ? "" : "s"}`, "red", colour)}: something would run before what it needs exists.`);
    for (const f of plan.findings) {
      out.push(`  ${paint(f.application, "bold", colour)} ${f.object} ${paint(f.path, "dim", colour)} ${paint(`[${f.rule}]`, "dim", colour)}`);
      out.push(`    ${f.message}`);
    }
  }
  return `${out.join("\n")}\n`;
}
