// Argo CD rules: the mistakes Argo CD accepts without a word and then acts on wrongly
// (see the notes in README: hook spelling, fixed-name hooks, PreSync reading what the same sync
// creates, sync options, manual production, project whitelists).
import { objectId, allObjects, objectsAtDir, type Finding, type RenderedEnvironment, type RenderedObject, type Rule, type RuleContext } from "./types.ts";
import { stages } from "../spec/stages.ts";
import { stageOfDir } from "./stage-index.ts";
import { annotation, createdKeys, podReferences, podTemplate } from "./workloads.ts";

const HOOK = "argocd.argoproj.io/hook";
const DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy";
const SYNC_OPTIONS = "argocd.argoproj.io/sync-options";
const HOOKS = ["PreSync", "Sync", "PostSync", "SyncFail", "Skip", "PreDelete", "PostDelete"];
const DELETE_POLICIES = ["HookSucceeded", "HookFailed", "BeforeHookCreation"];

/** Application-level sync options and the values Argo CD understands, spelled exactly. */
const APP_SYNC_OPTIONS: Record<string, string[]> = {
  CreateNamespace: ["true", "false"],
  PruneLast: ["true", "false"],
  ApplyOutOfSyncOnly: ["true", "false"],
  ServerSideApply: ["true", "false"],
  Validate: ["true", "false"],
  Replace: ["true", "false"],
  RespectIgnoreDifferences: ["true", "false"],
  FailOnSharedResource: ["true", "false"],
  SkipDryRunOnMissingResource: ["true", "false"],
  PrunePropagationPolicy: ["foreground", "background", "orphan"],
  Prune: ["false", "confirm"],
  Delete: ["false", "confirm"],
  Force: ["true", "false"],
  ClientSideApplyMigration: ["true", "false"],
};
/** Options that make sense on a single resource's annotation. */
const RESOURCE_SYNC_OPTIONS = ["Prune", "Delete", "Validate", "Replace", "ServerSideApply", "SkipDryRunOnMissingResource", "Force", "PruneLast"];

function finding(rule: string, ro: RenderedObject, path: string, message: string): Finding {
  return { rule: `argocd/${rule}`, file: ro.source, path, message, env: ro.env, object: objectId(ro.object) };
}

function everyObject(ctx: RuleContext): RenderedObject[] {
  return [...ctx.environments.flatMap(allObjects), ...ctx.argocd];
}

function split(value: string): string[] {
  return value.split(",").map((v) => v.trim()).filter(Boolean);
}

function suggestion(value: string, allowed: string[]): string {
  const match = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  return match ? ` (did you mean "${match}"?)` : ` (one of ${allowed.join(", ")})`;
}

export function hookPhases(ro: RenderedObject): string[] {
  const value = annotation(ro.object, HOOK);
  return value ? split(value) : [];
}

export const hookSpellingRule: Rule = (ctx) =>
  everyObject(ctx).flatMap((ro) => {
    const out: Finding[] = [];
    const hook = annotation(ro.object, HOOK);
    if (hook !== undefined) {
      for (const v of split(hook)) {
        if (!HOOKS.includes(v)) {
          out.push(finding("hook", ro, `metadata.annotations["${HOOK}"]`, `"${v}" is not a hook phase Argo CD knows: it would silently never run${suggestion(v, HOOKS)}`));
        }
      }
    }
    const policy = annotation(ro.object, DELETE_POLICY);
    if (policy !== undefined) {
      for (const v of split(policy)) {
        if (!DELETE_POLICIES.includes(v)) out.push(finding("hook", ro, `metadata.annotations["${DELETE_POLICY}"]`, `"${v}" is not a hook delete policy${suggestion(v, DELETE_POLICIES)}`));
      }
    }
    return out;
  });

/** A hook with a fixed name is only re-created on the next sync with BeforeHookCreation (argo-cd #7430). */
export const hookJobRule: Rule = (ctx) =>
  everyObject(ctx)
    .filter((ro) => ro.object.kind === "Job" && hookPhases(ro).length > 0 && !hookPhases(ro).includes("Skip"))
    .flatMap((ro) => {
      const out: Finding[] = [];
      const policy = annotation(ro.object, DELETE_POLICY);
      if (ro.object.metadata?.name && policy !== undefined && !split(policy).includes("BeforeHookCreation")) {
        out.push(finding("hook-job", ro, `metadata.annotations["${DELETE_POLICY}"]`, "a hook Job with a fixed name needs BeforeHookCreation: otherwise the next sync fails with \"field is immutable\""));
      }
      const spec = (ro.object.spec ?? {}) as { backoffLimit?: number; activeDeadlineSeconds?: number; ttlSecondsAfterFinished?: number };
      if (spec.backoffLimit === undefined) out.push(finding("hook-job", ro, "spec.backoffLimit", "set backoffLimit: a failing hook Job would retry six times before the sync fails"));
      if (spec.activeDeadlineSeconds === undefined) {
        out.push(finding("hook-job", ro, "spec.activeDeadlineSeconds", "set activeDeadlineSeconds: a hook pod that never starts keeps the sync waiting forever"));
      }
      if (spec.ttlSecondsAfterFinished !== undefined) {
        out.push(finding("hook-job", ro, "spec.ttlSecondsAfterFinished", "ttlSecondsAfterFinished on hook Jobs has left syncs stuck (argo-cd #21055): use a hook delete policy"));
      }
      return out;
    });

/** kustomize's name-hash suffix: ten characters of its own alphabet (no vowels, so words do not match). */
export const HASHED = /-[2456789bcdfghkmt]{10}$/;

/**
 * A PreSync hook runs before anything of its own sync is applied: on a first sync (or after a
 * rename) what it reads from the same Application does not exist yet (argo-cd #9891, #20119).
 */
export const preSyncDependenciesRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) =>
    Object.values(env.layers).flatMap((objects) => {
      return objects
        .filter((ro) => hookPhases(ro).includes("PreSync"))
        .flatMap((hook) => {
          const t = podTemplate(hook);
          if (!t) return [];
          const created = new Map<string, RenderedObject>();
          for (const o of objects) if (!hookPhases(o).length) for (const key of createdKeys(o.object)) created.set(key, o);
          return podReferences(t).flatMap((ref) => {
            const source = created.get(`${ref.kind}/${ref.name}`);
            if (!source) return [];
            const hashed = ref.kind === "ConfigMap" && HASHED.test(ref.name) ? " (a generated, hash-suffixed name that changes with its content)" : "";
            return [
              finding(
                "presync-dependency",
                hook,
                ref.path,
                `the PreSync hook reads ${ref.kind} ${ref.name}${hashed}, which ${objectId(source.object)} of the same Application creates in the Sync phase, after the hook: a first sync would fail. Move it to an Application synced before this one, with a stable name`,
              ),
            ];
          });
        });
    }),
  );

function applications(ctx: RuleContext): RenderedObject[] {
  return ctx.argocd.filter((o) => o.object.kind === "Application");
}

export const syncOptionsRule: Rule = (ctx) => {
  const out: Finding[] = [];
  for (const app of applications(ctx)) {
    const spec = (app.object.spec ?? {}) as { syncPolicy?: { syncOptions?: unknown[] }; destination?: { namespace?: string } };
    (spec.syncPolicy?.syncOptions ?? []).forEach((raw, i) => {
      const path = `spec.syncPolicy.syncOptions[${i}]`;
      const option = String(raw);
      const [key = "", value] = option.split("=", 2);
      const knownKey = Object.keys(APP_SYNC_OPTIONS).find((k) => k === key);
      if (!knownKey) {
        out.push(finding("sync-options", app, path, `"${option}" is not a sync option Argo CD knows${suggestion(key, Object.keys(APP_SYNC_OPTIONS))}`));
      } else if (value === undefined || !APP_SYNC_OPTIONS[knownKey]!.includes(value)) {
        out.push(finding("sync-options", app, path, `"${option}": ${knownKey} takes ${APP_SYNC_OPTIONS[knownKey]!.join(" or ")}, spelled exactly`));
      } else if (option === "CreateNamespace=true" && !spec.destination?.namespace) {
        out.push(finding("sync-options", app, path, "CreateNamespace=true needs spec.destination.namespace"));
      }
    });
  }
  for (const ro of everyObject(ctx)) {
    const value = annotation(ro.object, SYNC_OPTIONS);
    if (value === undefined) continue;
    for (const option of split(value)) {
      const [key = "", v] = option.split("=", 2);
      if (!RESOURCE_SYNC_OPTIONS.includes(key) || v === undefined || !(APP_SYNC_OPTIONS[key] ?? []).includes(v)) {
        out.push(finding("sync-options", ro, `metadata.annotations["${SYNC_OPTIONS}"]`, `"${option}" is not a resource sync option Argo CD knows${suggestion(key, RESOURCE_SYNC_OPTIONS)}`));
      }
    }
  }
  return out;
};

/**
 * The stage (an environment, or "<env>/<cluster>") whose overlay of some layer an Application
 * syncs. Built once per call: `stageOfDir` answers the first stage in promotion order.
 */
function appEnvOf(ctx: RuleContext): (app: RenderedObject) => string | undefined {
  const stageAt = stageOfDir(ctx.spec);
  return (app) => stageAt(((app.object.spec as { source?: { path?: string } } | undefined)?.source?.path ?? "").replace(/^\.\/|\/+$/g, ""));
}

/** Production (the last stage) syncs by hand: Argo CD refuses a UI rollback while auto-sync is on. */
export const manualProductionRule: Rule = (ctx) => {
  // The last stage: with clusters, each cluster of the environment's last wave (a canary wave
  // before it may sync automatically).
  const all = stages(ctx.spec);
  const lastGroup = all.length ? all[all.length - 1]!.group : -1;
  const lastStages = all.filter((s) => s.group === lastGroup).map((s) => s.id);
  const last = lastStages.join(", ");
  const envs = Object.keys(ctx.spec.environments);
  const appEnv = appEnvOf(ctx);
  return applications(ctx)
    .filter((app) => lastStages.includes(appEnv(app) ?? "") && envs.length > 1)
    .filter((app) => (app.object.spec as { syncPolicy?: { automated?: unknown } } | undefined)?.syncPolicy?.automated !== undefined)
    .map((app) => finding("manual-production", app, "spec.syncPolicy.automated", `${last} is the last stage and must sync by hand: rollback from the Argo CD UI is refused while automated sync is on`));
};

const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass", "PersistentVolume", "PriorityClass", "IngressClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]);

function groupOf(apiVersion: string | undefined): string {
  return apiVersion?.includes("/") ? apiVersion.split("/")[0]! : "";
}

function listed(list: { group?: string; kind?: string }[] | undefined, group: string, kind: string): boolean {
  return (list ?? []).some((e) => (e.group === "*" || (e.group ?? "") === group) && (e.kind === "*" || e.kind === kind));
}

/** The project must allow every kind the apps render, and Namespace when they create theirs. */
export const projectRule: Rule = (ctx) => {
  const out: Finding[] = [];
  const projects = ctx.argocd.filter((o) => o.object.kind === "AppProject");
  const appEnv = appEnvOf(ctx);
  const renderedEnvs = new Map<string, RenderedEnvironment>();
  for (const e of ctx.environments) if (!renderedEnvs.has(e.env)) renderedEnvs.set(e.env, e);
  for (const app of applications(ctx)) {
    const spec = (app.object.spec ?? {}) as { project?: string; source?: { repoURL?: string; path?: string }; destination?: { namespace?: string; server?: string; name?: string }; syncPolicy?: { syncOptions?: string[] } };
    const project = projects.find((p) => p.object.metadata?.name === spec.project);
    if (!project) {
      out.push(finding("project", app, "spec.project", `project ${spec.project} is not defined in argocd/`));
      continue;
    }
    const p = (project.object.spec ?? {}) as {
      sourceRepos?: string[];
      destinations?: { namespace?: string; server?: string; name?: string }[];
      clusterResourceWhitelist?: { group?: string; kind?: string }[];
      namespaceResourceWhitelist?: { group?: string; kind?: string }[];
    };
    if (spec.source?.repoURL && !(p.sourceRepos ?? []).some((r) => r === "*" || r === spec.source!.repoURL)) {
      out.push(finding("project", project, "spec.sourceRepos", `does not allow ${spec.source.repoURL}, the source of ${objectId(app.object)}`));
    }
    const dest = spec.destination ?? {};
    if (!(p.destinations ?? []).some((d) => (d.namespace === "*" || d.namespace === dest.namespace) && ((d.server ?? d.name) === "*" || (dest.server ? d.server === dest.server : d.name === dest.name)))) {
      out.push(finding("project", project, "spec.destinations", `does not allow namespace ${dest.namespace} on ${dest.server ?? dest.name}, the destination of ${objectId(app.object)}`));
    }
    if ((spec.syncPolicy?.syncOptions ?? []).includes("CreateNamespace=true") && !listed(p.clusterResourceWhitelist, "", "Namespace")) {
      out.push(finding("project", project, "spec.clusterResourceWhitelist", `${objectId(app.object)} uses CreateNamespace=true, so Namespace must be allowed here (argo-cd #20233)`));
    }
    const env = appEnv(app);
    const rendered = env === undefined ? undefined : renderedEnvs.get(env);
    if (!rendered) continue;
    const layer = objectsAtDir(ctx.spec, [rendered], spec.source?.path) ?? [];
    const seen = new Set<string>();
    for (const ro of layer) {
      const group = groupOf(ro.object.apiVersion);
      const kind = ro.object.kind ?? "";
      if (seen.has(`${group}/${kind}`)) continue;
      seen.add(`${group}/${kind}`);
      if (CLUSTER_SCOPED.has(kind)) {
        if (!listed(p.clusterResourceWhitelist, group, kind)) out.push(finding("project", project, "spec.clusterResourceWhitelist", `${objectId(app.object)} renders cluster-scoped ${kind} (${group || "core"}), which the project does not allow`));
      } else if (p.namespaceResourceWhitelist !== undefined && !listed(p.namespaceResourceWhitelist, group, kind)) {
        out.push(finding("project", project, "spec.namespaceResourceWhitelist", `${objectId(app.object)} renders ${kind} (${group || "core"}), which the project does not allow: the sync would fail`));
      }
    }
  }
  // Projects of the environments' Applications (the root's own project manages argocd/ itself).
  const envProjects = new Set(applications(ctx).filter((a) => appEnv(a)).map((a) => (a.object.spec as { project?: string } | undefined)?.project));
  for (const project of projects.filter((p) => envProjects.has(p.object.metadata?.name))) {
    const p = (project.object.spec ?? {}) as { destinations?: { namespace?: string }[] };
    (p.destinations ?? []).forEach((d, i) => {
      if (d.namespace === ctx.spec.argocdNamespace || d.namespace === "*") {
        out.push(finding("project", project, `spec.destinations[${i}].namespace`, `the project may deploy into ${d.namespace === "*" ? "every namespace" : `${d.namespace}, Argo CD's own namespace`}: list only the application's namespaces`));
      }
    });
  }
  return out;
};

/** Hooks and workloads must move to a new image together (one `images:` entry). */
export const hookImageRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const objects = allObjects(env);
    const workloadImages = new Map<string, string>();
    for (const ro of objects) {
      if (hookPhases(ro).length || ro.object.kind === "Job") continue;
      const t = podTemplate(ro);
      for (const c of t?.spec.containers ?? []) if (c.image) workloadImages.set(c.image.split(/[:@]/)[0]!, c.image);
    }
    return objects
      .filter((ro) => hookPhases(ro).length > 0)
      .flatMap((hook) =>
        (podTemplate(hook)?.spec.containers ?? []).flatMap((c, i) => {
          if (!c.image) return [];
          const same = workloadImages.get(c.image.split(/[:@]/)[0]!);
          return same && same !== c.image
            ? [finding("hook-image", hook, `${podTemplate(hook)!.path}.containers[${i}].image`, `the hook runs ${c.image} while the workloads run ${same}: they must move together`)]
            : [];
        }),
      );
  });

export const argocdRules: Record<string, Rule> = {
  hook: hookSpellingRule,
  "hook-job": hookJobRule,
  "presync-dependency": preSyncDependenciesRule,
  "sync-options": syncOptionsRule,
  "manual-production": manualProductionRule,
  project: projectRule,
  "hook-image": hookImageRule,
};
