// Where a finding about a rendered object is fixed. kustomize's origin annotation names the file
// an object came from (the base), but a value an overlay's patch set is not in that file: the
// patch is where to look. List entries are found by their `name` (containers, env, ports), not
// by position, because a strategic-merge patch merges those lists by name and may reorder them.
// And a file `pnpm generate` wrote is not where to fix anything: the spec key that produced it is.
import { isMap, isScalar, isSeq, type Document, type Node } from "yaml";
import { parseYamlDocumentsWithLines, type KubeObject } from "../core/yaml.ts";
import type { Spec } from "../spec/schema.ts";
import { segments } from "./locate.ts";

/** A path step: a key, a list index, or a list entry by its `name`. */
export type Step = string | number | { name: string };

/** The finding's path with every index into a list of named entries replaced by that entry's name (read from the rendered object). */
export function namedSteps(object: KubeObject | undefined, path: string): Step[] {
  const out: Step[] = [];
  let node: unknown = object;
  for (const segment of segments(path)) {
    if (typeof segment === "number" && Array.isArray(node)) {
      const item: unknown = node[segment];
      const name = item && typeof item === "object" ? (item as { name?: unknown }).name : undefined;
      out.push(typeof name === "string" ? { name } : segment);
      node = item;
      continue;
    }
    out.push(segment);
    node = node && typeof node === "object" ? (node as Record<string, unknown>)[String(segment)] : undefined;
  }
  return out;
}

/**
 * The line of the deepest node of `steps` in one YAML document, and whether the whole path is
 * there. A named step matches the list entry with that name; a numeric one, the entry at that index.
 */
export function walk(root: Node | null | undefined, steps: Step[], linePos: (offset: number) => number): { line: number | undefined; complete: boolean } {
  let node: Node | null | undefined = root;
  let line = root?.range ? linePos(root.range[0]) : undefined;
  for (const [i, step] of steps.entries()) {
    let next: Node | null | undefined;
    if (typeof step === "object" && isSeq(node)) {
      next = node.items.find((item) => isMap(item) && item.get("name") === step.name) as Node | undefined;
    } else if (typeof step === "number" && isSeq(node)) {
      next = node.items[step] as Node | undefined;
    } else if (typeof step === "string" && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === step);
      if (pair && isScalar(pair.key) && pair.key.range) line = linePos(pair.key.range[0]);
      next = pair?.value as Node | null | undefined;
      if (pair && (next === null || next === undefined || isScalar(next))) return { line, complete: i === steps.length - 1 };
    }
    if (!next) return { line, complete: false };
    node = next;
    if (typeof step !== "string" && node.range) line = linePos(node.range[0]);
  }
  return { line, complete: true };
}

/** 1-based line of `steps` in the document of `text` that declares kind/name (named list entries matched by name). */
export function locateSteps(text: string, kind: string | undefined, name: string | undefined, steps: Step[]): number | undefined {
  const { docs, lines } = parseYamlDocumentsWithLines(text);
  const doc = docs.find((d) => declares(d, kind, name)) ?? (kind === undefined ? docs[0] : undefined);
  if (!doc) return undefined;
  return walk(doc.contents as Node, steps, (o) => lines.linePos(o).line).line;
}

function declares(doc: Document, kind: string | undefined, name: string | undefined): boolean {
  const root = doc.contents;
  if (!isMap(root)) return false;
  const docKind: unknown = root.get("kind");
  const meta: unknown = root.get("metadata");
  const docName: unknown = isMap(meta) ? meta.get("name") : undefined;
  return (kind === undefined || docKind === undefined || docKind === kind) && (name === undefined || docName === undefined || docName === name);
}

/** One patch of an overlay: a file (or the kustomization itself, for an inline patch) and its target. */
interface PatchSource {
  file: string;
  text: string;
  target?: { kind?: string; name?: string };
  /** Line of the inline patch's entry in the kustomization (inline patches have no lines of their own there). */
  inlineLine?: number;
}

function matchesTarget(target: PatchSource["target"], kind: string, name: string): boolean {
  if (!target) return true;
  if (target.kind !== undefined && target.kind !== kind) return false;
  if (target.name !== undefined && !new RegExp(`^(?:${target.name})$`).test(name)) return false;
  return true;
}

/** JSON pointer of a JSON6902 op, as steps (indices stay indices: a JSON patch addresses by position). */
function pointerSteps(pointer: string): (string | number)[] {
  return pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

/**
 * The patch of the overlay that sets the finding's path of object kind/name, with its line: the
 * last patch that touches it wins, as in kustomize (patches apply in order).
 */
export function patchAt(patches: PatchSource[], kind: string, name: string, indexSteps: (string | number)[], steps: Step[]): { file: string; line: number | undefined } | undefined {
  let found: { file: string; line: number | undefined } | undefined;
  for (const patch of patches) {
    if (!matchesTarget(patch.target, kind, name)) continue;
    let docs: Document[];
    let linePos: (o: number) => number;
    try {
      const parsed = parseYamlDocumentsWithLines(patch.text);
      docs = parsed.docs;
      linePos = (o) => parsed.lines.linePos(o).line;
    } catch {
      continue;
    }
    for (const doc of docs) {
      const root = doc.contents;
      if (isSeq(root)) {
        // JSON6902: an op that sets a value (add, replace) at the finding's path or a parent of
        // it. Its indices address the list as it was when the op ran, so an op that adds a whole
        // named entry (a container) is matched by that name; other indices by position.
        for (const op of root.items) {
          if (!isMap(op) || !["add", "replace"].includes(String(op.get("op")))) continue;
          const pointer = op.get("path");
          if (typeof pointer !== "string") continue;
          const opSteps: Step[] = pointerSteps(pointer);
          const value: unknown = op.get("value");
          const entryName = isMap(value) ? value.get("name") : undefined;
          if (typeof entryName === "string" && (typeof opSteps[opSteps.length - 1] === "number" || opSteps[opSteps.length - 1] === "-")) opSteps[opSteps.length - 1] = { name: entryName };
          const same = (s: Step, i: number) => (typeof s === "object" ? typeof steps[i] === "object" && (steps[i] as { name: string }).name === s.name : s === indexSteps[i]);
          const prefix = opSteps.length <= indexSteps.length && opSteps.every(same);
          if (prefix && op.range) found = { file: patch.file, line: patch.inlineLine ?? linePos(op.range[0]) };
        }
      } else if (isMap(root) && declares(doc, kind, name) && root.get("kind") !== undefined) {
        // Strategic merge: the patch sets the path when the whole path is in it.
        const at = walk(root, steps, linePos);
        if (at.complete) found = { file: patch.file, line: patch.inlineLine ?? at.line };
      }
    }
  }
  return found;
}

/** The patches an overlay's kustomization lists (file patches are read with `read`). */
export async function overlayPatches(dir: string, kustomization: Record<string, unknown>, kustomizationText: string, read: (file: string) => Promise<string | undefined>): Promise<PatchSource[]> {
  const out: PatchSource[] = [];
  const file = `${dir}/kustomization.yaml`;
  const entries = Array.isArray(kustomization.patches) ? kustomization.patches : [];
  for (const [i, entry] of entries.entries()) {
    const e = entry as { path?: unknown; patch?: unknown; target?: { kind?: string; name?: string } } | null;
    if (!e || typeof e !== "object") continue;
    if (typeof e.path === "string") {
      const path = `${dir}/${e.path}`.replace(/\/\.\//g, "/");
      const text = await read(path);
      if (text !== undefined) out.push({ file: path, text, target: e.target });
    } else if (typeof e.patch === "string") {
      out.push({ file, text: e.patch, target: e.target, inlineLine: locateSteps(kustomizationText, undefined, undefined, ["patches", i]) });
    }
  }
  const strategic = Array.isArray(kustomization.patchesStrategicMerge) ? kustomization.patchesStrategicMerge : [];
  for (const entry of strategic) {
    if (typeof entry !== "string") continue;
    const path = `${dir}/${entry}`;
    const text = await read(path);
    if (text !== undefined) out.push({ file: path, text });
  }
  return out;
}

/**
 * The spec key that a generated file's content comes from, for a finding about object kind/name
 * at `path` (a rendered path); undefined when the file holds something the spec does not decide
 * (an overlay's image tags belong to bump-image and promote).
 */
export function specKeyFor(spec: Spec, file: string, kind: string | undefined, name: string | undefined, path: string): string | undefined {
  const overlay = /^overlays\/([^/]+)\/(?:([^/]+)\/)?([^/]+)$/.exec(file);
  if (overlay) {
    const [, env, , base] = overlay as unknown as [string, string, string | undefined, string];
    if (!Object.hasOwn(spec.environments, env)) return undefined;
    const at = `environments.${env}`;
    const component = Object.entries(spec.components).find(([, c]) => (c.workload.kind === kind && c.workload.name === name) || (c.scaler?.kind === kind && c.scaler?.name === name))?.[0];
    if (base === "replicas.yaml" && component) return `${at}.components.${component}.replicas`;
    if (/^resources(-.+)?\.yaml$/.test(base) && component) return `${at}.components.${component}.resources`;
    if (/^ingress-.+\.yaml$/.test(base)) return spec.environments[env]!.hosts !== undefined ? `${at}.hosts` : `${at}.host`;
    const managed = /^managed-(.+)\.yaml$/.exec(base)?.[1];
    if (managed && Object.hasOwn(spec.data, managed)) return `${at}.data.${managed}`;
    if (base === "secret-keys.yaml") return spec.environments[env]!.secretKey !== undefined ? `${at}.secretKey` : "secrets";
    if (/^kustomization\.ya?ml$/.test(base)) {
      if (kind === "ConfigMap" && spec.configMap && name?.startsWith(spec.configMap.name) && path.startsWith("data")) return `${at}.config`;
      if (path === "metadata.namespace") return `${at}.namespace`;
    }
    return undefined;
  }
  const argocd = /^argocd\/([^/]+)\.ya?ml$/.exec(file);
  if (argocd) {
    const env = argocd[1]!;
    if (Object.hasOwn(spec.environments, env)) {
      const at = `environments.${env}`;
      if (path.startsWith("spec.syncPolicy")) return `${at}.sync`;
      if (path.startsWith("spec.destination")) return `${at}.namespace`;
      return at;
    }
    if (env === "project") return "project";
    if (env === "root") return "name";
  }
  return undefined;
}
