// What the generator needs to know of the base: the objects its files declare (to patch only
// where an environment differs) and the kinds it can render (for the AppProject's whitelist).
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { parseYamlStream, type KubeObject } from "../core/yaml.ts";

export interface BaseObject {
  file: string;
  object: KubeObject;
}

export interface BaseInfo {
  objects: BaseObject[];
  /** group/kind pairs the base and components can render, sorted. */
  kinds: { group: string; kind: string }[];
}

const KUSTOMIZE_KINDS = new Set(["Kustomization", "Component"]);

async function yamlFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/**
 * The objects of base/ and components/, and of any other directory the spec names (a layer's base
 * or a managed service's component elsewhere), each file once.
 */
export async function readBase(root: string, extraDirs: string[] = []): Promise<BaseInfo> {
  const dirs = ["base", "components", ...extraDirs.filter((d) => !["base", "components"].some((top) => d === top || d.startsWith(`${top}/`)))];
  const lists = await Promise.all([...new Set(dirs)].map((d) => yamlFiles(join(root, d))));
  const files = [...new Set(lists.flat())];
  // Read at once, parsed in order (the first bad file is the one reported, as before).
  const texts = files.map((file) => readFile(file, "utf8"));
  for (const text of texts) text.catch(() => undefined);
  const objects: BaseObject[] = [];
  const kinds = new Map<string, { group: string; kind: string }>();
  for (const [i, file] of files.entries()) {
    const rel = relative(root, file);
    const docs = parseYamlStream(await texts[i]!, rel);
    for (const object of docs) {
      if (!object.kind || !object.apiVersion) continue;
      if (KUSTOMIZE_KINDS.has(object.kind)) {
        // Generators render ConfigMaps and Secrets of their own.
        if (Array.isArray(object.configMapGenerator) && object.configMapGenerator.length) kinds.set("/ConfigMap", { group: "", kind: "ConfigMap" });
        if (Array.isArray(object.secretGenerator) && object.secretGenerator.length) kinds.set("/Secret", { group: "", kind: "Secret" });
        continue;
      }
      if ((object as Record<string, unknown>)["$patch"] === "delete") continue;
      objects.push({ file: rel, object });
      const group = object.apiVersion.includes("/") ? object.apiVersion.split("/")[0]! : "";
      kinds.set(`${group}/${object.kind}`, { group, kind: object.kind });
    }
  }
  const sorted = [...kinds.values()].sort((a, b) => a.group.localeCompare(b.group) || a.kind.localeCompare(b.kind));
  return { objects, kinds: sorted };
}

/** The base object of that kind and name; with `under`, only in files below that directory. */
export function findBaseObject(base: BaseInfo, kind: string, name: string, under?: string): KubeObject | undefined {
  return findBaseEntry(base, kind, name, under)?.object;
}

export function findBaseEntry(base: BaseInfo, kind: string, name: string, under?: string): BaseObject | undefined {
  return base.objects.find((o) => o.object.kind === kind && o.object.metadata?.name === name && (under === undefined || o.file.startsWith(`${under}/`)));
}
