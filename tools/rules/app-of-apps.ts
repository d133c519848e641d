// Rules for Applications that manage Applications (an app of apps' root, an ApplicationSet): what
// Argo CD does to the children that the children's own manifests cannot show. Each rule cites
// the Argo CD source it follows (argo-cd at v3.5, gitops-engine vendored in it).
import { syncWave } from "./sync-wave.ts";
import { objectsByDir } from "./stage-index.ts";
import { objectId, type Finding, type RenderedObject, type Rule, type RuleContext } from "./types.ts";

type AppSpec = {
  project?: string;
  source?: { repoURL?: string; path?: string };
  destination?: { server?: string; name?: string; namespace?: string };
  syncPolicy?: {
    automated?: { prune?: boolean; selfHeal?: boolean; enabled?: boolean } | null;
    syncOptions?: string[];
    managedNamespaceMetadata?: unknown;
  };
  ignoreDifferences?: IgnoreEntry[];
};

interface IgnoreEntry {
  group?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  jsonPointers?: string[];
  jqPathExpressions?: string[];
}

const SYNC_OPTIONS = "argocd.argoproj.io/sync-options";
const RESOURCES_FINALIZER = /^resources-finalizer\.argocd\.argoproj\.io(\/(background|foreground))?$/;

function finding(rule: string, ro: RenderedObject, path: string, message: string): Finding {
  return { rule: `argocd/${rule}`, file: ro.source, path, message, env: ro.env, object: objectId(ro.object) };
}

function specOf(ro: RenderedObject): AppSpec {
  return (ro.object.spec ?? {}) as AppSpec;
}

function isApplication(ro: RenderedObject): boolean {
  return ro.object.kind === "Application" && (ro.object.apiVersion ?? "").startsWith("argoproj.io/");
}

/** Automated sync in effect (argo-cd: `automated` present and not `enabled: false`). */
export function automated(ro: RenderedObject): boolean {
  const a = specOf(ro).syncPolicy?.automated;
  return a != null && a.enabled !== false;
}

function options(ro: RenderedObject): string[] {
  return (specOf(ro).syncPolicy?.syncOptions ?? []).map(String);
}

function annotationOptions(ro: RenderedObject): string[] {
  return (ro.object.metadata?.annotations?.[SYNC_OPTIONS] ?? "").split(",").map((o) => o.trim());
}

function normalPath(path: string | undefined): string {
  return (path ?? "").replace(/^\.\/|\/+$/g, "");
}

export interface Family {
  parent: RenderedObject;
  children: RenderedObject[];
}

/**
 * Each Application whose source is the argocd/ folder, with the objects it syncs: those of the
 * files argocd/kustomization.yaml lists. (Only argocd/ is read by `pnpm check`; a parent of
 * another folder has no known children.)
 */
export function families(ctx: RuleContext): Family[] {
  const listed = new Set(ctx.argocdResources ?? []);
  const children = ctx.argocd.filter((o) => listed.has(o.source));
  return ctx.argocd.filter((o) => isApplication(o) && normalPath(specOf(o).source?.path) === "argocd").map((parent) => ({ parent, children: children.filter((c) => c !== parent) }));
}

/** Each glob compiled once per process (a pure function of the pattern): rules ask per child. */
const globs = new Map<string, RegExp>();

/** Argo CD's glob for ignoreDifferences group and kind (argo-cd util/glob). */
function globMatch(pattern: string | undefined, value: string): boolean {
  if (pattern === undefined) return value === "";
  let re = globs.get(pattern);
  if (!re) globs.set(pattern, (re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`)));
  return re.test(value);
}

/** Does an ignoreDifferences entry cover `pointer` of this object (a prefix of it counts)? */
export function ignores(entry: IgnoreEntry, ro: RenderedObject, pointer: string): boolean {
  const group = (ro.object.apiVersion ?? "").includes("/") ? ro.object.apiVersion!.split("/")[0]! : "";
  // argo-cd util/argo/normalizers/diff_normalizer.go: glob on group and kind, exact name and namespace.
  if (!globMatch(entry.group, group) || !globMatch(entry.kind, ro.object.kind ?? "")) return false;
  if (entry.name && entry.name !== ro.object.metadata?.name) return false;
  if (entry.namespace && entry.namespace !== ro.object.metadata?.namespace) return false;
  if ((entry.jsonPointers ?? []).some((p) => covers(pointer, p))) return true;
  // The plain field paths of jq (".spec.syncPolicy"), the only form read here.
  return (entry.jqPathExpressions ?? []).some((jq) => /^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(jq.trim()) && covers(pointer, jq.trim().replaceAll(".", "/")));
}

function covers(pointer: string, p: string): boolean {
  return pointer === p || pointer.startsWith(`${p.replace(/\/+$/, "")}/`);
}

/**
 * The entries of an ignoreDifferences list that may cover an object, in list order: those naming
 * it and those naming none. A root lists one entry per child Application, so trying every entry
 * for every child was children x children. An entry naming another object is left out only where
 * ignores() would answer false without a doubt (its group, kind and name are strings or absent).
 */
function candidateEntries(entries: IgnoreEntry[]): (ro: RenderedObject) => IgnoreEntry[] {
  const always: { i: number; e: IgnoreEntry }[] = [];
  const byName = new Map<string, { i: number; e: IgnoreEntry }[]>();
  entries.forEach((e, i) => {
    const plain = (e.group === undefined || typeof e.group === "string") && (e.kind === undefined || typeof e.kind === "string");
    if (!plain || !e.name || typeof e.name !== "string") always.push({ i, e });
    else {
      const same = byName.get(e.name);
      if (same) same.push({ i, e });
      else byName.set(e.name, [{ i, e }]);
    }
  });
  return (ro) => {
    const name = ro.object.metadata?.name;
    const named = typeof name === "string" ? byName.get(name) : undefined;
    if (!named) return always.map(({ e }) => e);
    return [...always, ...named].sort((a, b) => a.i - b.i).map(({ e }) => e);
  };
}

const AUTOMATED = "/spec/syncPolicy/automated";

/**
 * A UI rollback is refused while auto-sync is on, and turning it off edits the child's
 * spec.syncPolicy.automated; a parent that self-heals reverts that within seconds unless it
 * ignores the field (Argo CD's cluster-bootstrapping doc, "Ignoring differences in child
 * applications") and respects the ignore when it syncs (RespectIgnoreDifferences=true; without it
 * the next sync applies git's value again: argo-cd controller/sync.go normalizeTargetResources).
 * An ApplicationSet always rewrites its Applications unless it ignores the field in
 * spec.ignoreApplicationDifferences or only creates them (applicationsSync: create-only).
 */
export const childSyncPolicyRule: Rule = (ctx) => {
  const out: Finding[] = [];
  for (const { parent, children } of families(ctx)) {
    if (!automated(parent) || specOf(parent).syncPolicy?.automated?.selfHeal !== true) continue;
    const entriesFor = candidateEntries(specOf(parent).ignoreDifferences ?? []);
    const loose = children.filter((c) => isApplication(c) && automated(c) && !entriesFor(c).some((e) => ignores(e, c, AUTOMATED)));
    if (loose.length) {
      out.push(
        finding(
          "child-sync-policy",
          parent,
          "spec.ignoreDifferences",
          `self-heals the automatically synced ${loose.map((c) => c.object.metadata?.name).join(", ")}: disabling auto-sync on one (which a UI rollback needs) is reverted within seconds. Ignore ${AUTOMATED} of kind Application (cluster-bootstrapping doc, "Ignoring differences in child applications")`,
        ),
      );
    }
    const ignoring = children.some((c) => isApplication(c) && entriesFor(c).some((e) => ignores(e, c, AUTOMATED)));
    if (ignoring && !options(parent).includes("RespectIgnoreDifferences=true")) {
      out.push(finding("child-sync-policy", parent, "spec.syncPolicy.syncOptions", `ignores its children's ${AUTOMATED} only in the diff: without RespectIgnoreDifferences=true its next sync applies git's value again`));
    }
  }
  for (const set of ctx.argocd.filter((o) => o.object.kind === "ApplicationSet")) {
    const spec = (set.object.spec ?? {}) as {
      template?: { spec?: AppSpec };
      syncPolicy?: { applicationsSync?: string };
      ignoreApplicationDifferences?: { name?: string; jsonPointers?: string[]; jqPathExpressions?: string[] }[];
    };
    const templateAutomated = spec.template?.spec?.syncPolicy?.automated;
    if (templateAutomated == null || templateAutomated.enabled === false || spec.syncPolicy?.applicationsSync === "create-only") continue;
    const probe: RenderedObject = { ...set, object: { apiVersion: "argoproj.io/v1alpha1", kind: "Application", metadata: {} } };
    if (!(spec.ignoreApplicationDifferences ?? []).some((e) => !e.name && ignores({ group: "*", kind: "*", ...e }, probe, AUTOMATED))) {
      out.push(finding("child-sync-policy", set, "spec.ignoreApplicationDifferences", `generates automatically synced Applications and rewrites them: disabling auto-sync on one (which a UI rollback needs) is reverted. Ignore ${AUTOMATED} in spec.ignoreApplicationDifferences`));
    }
  }
  return out;
};

/**
 * An Application whose project does not exist yet fails as InvalidSpecError; children of one
 * parent are created wave by wave (gitops-engine pkg/sync/sync_tasks.go), so the AppProject must
 * be in an earlier wave than every Application naming it (in the same wave the two race).
 */
export const projectWaveRule: Rule = (ctx) => families(ctx).flatMap(projectWaveFindings);

export function projectWaveFindings({ children }: Family): Finding[] {
  return children
      .filter((p) => p.object.kind === "AppProject")
      .flatMap((project) => {
        const early = children.filter((a) => isApplication(a) && specOf(a).project === project.object.metadata?.name && syncWave(a.object) <= syncWave(project.object));
        if (!early.length) return [];
        return [
          finding(
            "project-wave",
            project,
            'metadata.annotations["argocd.argoproj.io/sync-wave"]',
            `created in wave ${syncWave(project.object)}, but ${early.map((a) => `${objectId(a.object)} (wave ${syncWave(a.object)})`).join(", ")} name it: on a first install they start before their project exists (InvalidSpecError). Give the project an earlier wave than every Application naming it`,
          ),
        ];
      });
}

function destinationKey(ro: RenderedObject): string {
  const d = specOf(ro).destination ?? {};
  return `${d.server ?? d.name ?? ""}\0${d.namespace ?? ""}`;
}

/** Does this Application create its destination namespace (CreateNamespace, or a Namespace it renders)? */
function createsNamespace(objectsAt: ReturnType<typeof objectsByDir>, app: RenderedObject): boolean {
  const ns = specOf(app).destination?.namespace;
  if (!ns) return false;
  if (options(app).includes("CreateNamespace=true")) return true;
  const path = normalPath(specOf(app).source?.path);
  const objects = objectsAt(path) ?? [];
  return objects.some((o) => o.object.kind === "Namespace" && (o.object.apiVersion ?? "") === "v1" && o.object.metadata?.name === ns);
}

/**
 * Every Application whose destination namespace another Application creates must survive that
 * namespace not existing yet: Applications of one wave sync in parallel, and without the
 * Application health check nothing waits at all. CreateNamespace=true without
 * managedNamespaceMetadata only creates a missing namespace (argo-cd controller/sync_namespace.go),
 * so each may carry it; two that manage the namespace's metadata differently fight over it.
 */
export const namespaceMissingRule: Rule = (ctx) => {
  const out: Finding[] = [];
  const apps = ctx.argocd.filter(isApplication).filter((a) => specOf(a).destination?.namespace);
  // Applications by destination (in order), and whether each creates its namespace: once per call.
  const byDestination = new Map<string, RenderedObject[]>();
  for (const a of apps) {
    const key = destinationKey(a);
    const same = byDestination.get(key);
    if (same) same.push(a);
    else byDestination.set(key, [a]);
  }
  const objectsAt = objectsByDir(ctx.spec, ctx.environments);
  const creating = new Map<RenderedObject, boolean>();
  const creates = (a: RenderedObject) => {
    let yes = creating.get(a);
    if (yes === undefined) creating.set(a, (yes = createsNamespace(objectsAt, a)));
    return yes;
  };
  for (const app of apps) {
    const others = byDestination.get(destinationKey(app))!.filter((o) => o !== app);
    const creators = others.filter(creates);
    const ns = specOf(app).destination!.namespace;
    if (creators.length && !creates(app)) {
      out.push(
        finding(
          "namespace-missing",
          app,
          "spec.syncPolicy.syncOptions",
          `deploys into ${ns}, which ${creators.map((c) => objectId(c.object)).join(", ")} creates: if this one syncs first it fails with "namespace not found" and burns its retries. Add CreateNamespace=true (without managedNamespaceMetadata it only creates a missing namespace)`,
        ),
      );
    }
    const metadata = specOf(app).syncPolicy?.managedNamespaceMetadata;
    if (metadata !== undefined) {
      const rival = others.find((o) => specOf(o).syncPolicy?.managedNamespaceMetadata !== undefined && JSON.stringify(specOf(o).syncPolicy?.managedNamespaceMetadata) !== JSON.stringify(metadata));
      if (rival && ctx.argocd.indexOf(app) < ctx.argocd.indexOf(rival)) {
        out.push(finding("namespace-missing", app, "spec.syncPolicy.managedNamespaceMetadata", `${objectId(rival.object)} manages different metadata on namespace ${ns}: each sync would take the labels from the other. Let one Application manage it`));
      }
    }
  }
  return out;
};

/**
 * With Argo CD's Application health check (argocd-cm resource.customizations.health.argoproj.io_Application,
 * the documented way to order an app of apps by waves) a parent waits in each wave until its
 * Applications are Healthy or Degraded (gitops-engine sync_context.go: any other health keeps the
 * task running). A manually synced Application is Missing until someone syncs it, so everything
 * of its parent in a later wave is never created: on a first install, or when it is new.
 */
export const manualBlocksRootRule: Rule = (ctx) => families(ctx).flatMap(manualBlocksFindings);

export function manualBlocksFindings({ parent, children }: Family): Finding[] {
  return children
      .filter((c) => isApplication(c) && !automated(c))
      .flatMap((manual) => {
        const later = children
          .filter((c) => syncWave(c.object) > syncWave(manual.object))
          .sort((a, b) => syncWave(a.object) - syncWave(b.object) || (objectId(a.object) < objectId(b.object) ? -1 : 1));
        if (!later.length) return [];
        return [
          finding(
            "manual-blocks-root",
            manual,
            'metadata.annotations["argocd.argoproj.io/sync-wave"]',
            `is synced by hand, in wave ${syncWave(manual.object)} of ${objectId(parent.object)}: with the Application health check the root waits here until someone syncs it (Missing until then), so ${later.map((c) => `${objectId(c.object)} (wave ${syncWave(c.object)})`).join(", ")} would never be created. Put manually synced Applications in the root's last wave`,
          ),
        ];
      });
}

/**
 * A parent that prunes deletes a child Application that drops out of its source (one bad merge),
 * and the child's resources finalizer then deletes everything the child deployed. For a manually
 * synced (production) child that must be an explicit act: Prune=false on the child makes the
 * parent skip the prune (gitops-engine sync_context.go isPruningDisabled, on the live object), and
 * Delete=false keeps it when the parent itself is deleted with its resources finalizer (argo-cd
 * controller/appcontroller.go shouldBeDeleted). A Prune=false sync option of the parent covers all.
 */
export const cascadeDeletionRule: Rule = (ctx) =>
  families(ctx).flatMap(({ parent, children }) => {
    const prunes = automated(parent) && specOf(parent).syncPolicy?.automated?.prune === true && !options(parent).includes("Prune=false");
    const parentCascades = (parent.object.metadata?.finalizers as string[] | undefined)?.some((f) => RESOURCES_FINALIZER.test(f)) ?? false;
    return children
      .filter((c) => isApplication(c) && !automated(c) && ((c.object.metadata?.finalizers as string[] | undefined) ?? []).some((f) => RESOURCES_FINALIZER.test(f)))
      .flatMap((child) => {
        const missing = [...(prunes && !annotationOptions(child).includes("Prune=false") ? ["Prune=false"] : []), ...(parentCascades && !annotationOptions(child).includes("Delete=false") ? ["Delete=false"] : [])];
        if (!missing.length) return [];
        return [
          finding(
            "cascade-deletion",
            child,
            `metadata.annotations["${SYNC_OPTIONS}"]`,
            `is synced by hand and deletes its resources with itself (resources finalizer), under ${objectId(parent.object)}, which ${prunes ? "prunes" : "deletes its children with itself"}: one merge that drops it from ${normalPath(specOf(parent).source?.path)}/ would delete every workload it deployed. Annotate it ${SYNC_OPTIONS}: ${missing.join(",")}, and retire it by hand`,
          ),
        ];
      });
  });

export const appOfAppsRules: Record<string, Rule> = {
  "child-sync-policy": childSyncPolicyRule,
  "project-wave": projectWaveRule,
  "namespace-missing": namespaceMissingRule,
  "manual-blocks-root": manualBlocksRootRule,
  "cascade-deletion": cascadeDeletionRule,
};
