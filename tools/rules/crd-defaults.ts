// Defaults that a CustomResourceDefinition's structural schema makes the API server fill in, and
// the rule that finds custom resources whose list items leave such a field out.
//
// Why list items: Argo CD's default ("legacy") diff of a custom resource is a three-way JSON merge
// patch (gitops-engine pkg/diff/diff.go threeWayMergePatch: types outside the client scheme get
// jsonmergepatch.CreateThreeWayJSONMergePatch). A merge patch compares maps key by key, so a
// defaulted field of a map that git leaves out is no difference; but it replaces lists whole, so
// a list item that lacks a field the server defaults differs from the live item forever: the
// resource is OutOfSync for good (external-secrets #6797, #6398), self-heal re-applies it in a
// loop, and a manual Application never shows Synced, hiding real drift. Server-side diff
// (`argocd.argoproj.io/compare-options: ServerSideDiff=true` on the Application, read in argo-cd
// controller/state.go) compares with the object as the API server would store it, so it has no
// such difference.
//
// The defaults come from the CRDs vendored in crds/ (the schema packages in node_modules ship
// compiled validators without `default`). Parsing a CRD costs some 100 ms, so the loader
// (tools/check/crds.ts) caches the compact index built here.
import type { KubeObject } from "../core/yaml.ts";
import { allObjects, objectId, type Finding, type RenderedObject, type Rule, type RuleContext } from "./types.ts";
import { overlayDir } from "../spec/model.ts";

/** The parts of a schema that lead to a default: d the default, p properties, i array items. */
export interface DefaultNode {
  d?: unknown;
  p?: Record<string, DefaultNode>;
  i?: DefaultNode;
}

/** "group/version/Kind" -> the schema's defaults. */
export type CrdDefaults = Record<string, DefaultNode>;

type Schema = { default?: unknown; properties?: Record<string, Schema>; items?: Schema };

function prune(schema: Schema | undefined): DefaultNode | undefined {
  if (!schema || typeof schema !== "object") return undefined;
  const node: DefaultNode = {};
  if (schema.default !== undefined) node.d = schema.default;
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const sub = prune(child);
    if (sub) (node.p ??= {})[key] = sub;
  }
  const items = prune(schema.items);
  if (items) node.i = items;
  return node.d !== undefined || node.p || node.i ? node : undefined;
}

/** The defaults of every served version of the CRDs given (other objects are ignored). */
export function crdDefaults(crds: KubeObject[]): CrdDefaults {
  const out: CrdDefaults = {};
  for (const crd of crds) {
    if (crd.kind !== "CustomResourceDefinition") continue;
    const spec = (crd.spec ?? {}) as { group?: string; names?: { kind?: string }; versions?: { name?: string; schema?: { openAPIV3Schema?: Schema } }[] };
    for (const version of spec.versions ?? []) {
      const node = prune(version.schema?.openAPIV3Schema);
      if (node && spec.group && spec.names?.kind && version.name) out[`${spec.group}/${version.name}/${spec.names.kind}`] = node;
    }
  }
  return out;
}

export interface MissingDefault {
  path: string;
  default: unknown;
}

/**
 * Fields the server would default inside list items that the object leaves out. A default
 * outside any list is no difference under a merge patch, and a default under an absent optional
 * parent is never applied, so neither is reported.
 */
export function missingListDefaults(object: unknown, node: DefaultNode, path = "", inList = false): MissingDefault[] {
  const out: MissingDefault[] = [];
  if (Array.isArray(object)) {
    if (node.i) object.forEach((item, n) => out.push(...missingListDefaults(item, node.i!, `${path}[${n}]`, true)));
    return out;
  }
  if (!object || typeof object !== "object") return out;
  for (const [key, child] of Object.entries(node.p ?? {})) {
    const value = (object as Record<string, unknown>)[key];
    const at = path ? `${path}.${key}` : key;
    if (value === undefined || value === null) {
      if (inList && child.d !== undefined) out.push({ path: at, default: child.d });
    } else {
      out.push(...missingListDefaults(value, child, at, inList));
    }
  }
  return out;
}

function compareOptions(app: KubeObject): string[] {
  return (app.metadata?.annotations?.["argocd.argoproj.io/compare-options"] ?? "").split(",").map((o) => o.trim());
}

/** The Application that syncs an environment's layer (its source path is the overlay). */
/** The Application (the first) syncing each overlay directory, looked up once per call rather than per object. */
function applicationsByDir(ctx: RuleContext): (ro: RenderedObject) => KubeObject | undefined {
  const byDir = new Map<string, KubeObject>();
  for (const a of ctx.argocd) {
    if (a.object.kind !== "Application") continue;
    const dir = ((a.object.spec as { source?: { path?: string } } | undefined)?.source?.path ?? "").replace(/^\.\/|\/+$/g, "");
    if (!byDir.has(dir)) byDir.set(dir, a.object);
  }
  return (ro) => (ro.env === undefined ? undefined : byDir.get(overlayDir(ctx.spec, ro.env, ro.layer)));
}

export const crdListDefaultsRule: Rule = (ctx) => {
  const index = ctx.crdDefaults ?? {};
  const applicationOf = applicationsByDir(ctx);
  const out: Finding[] = [];
  for (const env of ctx.environments) {
    for (const ro of allObjects(env)) {
      const node = index[`${ro.object.apiVersion}/${ro.object.kind}`];
      if (!node) continue;
      const app = applicationOf(ro);
      if (app && compareOptions(app).includes("ServerSideDiff=true")) continue;
      // One finding per list item (the object that holds the fields), naming what it leaves out.
      const byItem = new Map<string, MissingDefault[]>();
      for (const m of missingListDefaults(ro.object, node)) {
        const at = m.path.slice(0, m.path.lastIndexOf("."));
        byItem.set(at, [...(byItem.get(at) ?? []), m]);
      }
      for (const [path, missing] of byItem) {
        const fields = missing.map((m) => `${m.path.slice(path.length + 1)} (${JSON.stringify(m.default)})`).join(", ");
        out.push({
          rule: "argocd/crd-list-defaults",
          file: ro.source,
          path,
          env: ro.env,
          object: objectId(ro.object),
          message: `this list item leaves out ${fields}, which the CRD defaults; Argo CD's legacy diff replaces a custom resource's lists whole, so ${app ? `Application ${app.metadata?.name}` : "its Application"} would be OutOfSync forever (external-secrets #6797): spell the defaults out, or annotate the Application argocd.argoproj.io/compare-options: ServerSideDiff=true`,
        });
      }
    }
  }
  return out;
};
