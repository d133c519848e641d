// The CustomResourceDefinitions a repository vendors: `crds/` at its root (any *.yaml below it),
// then those the tools ship in their own crds/.
// The files are read while kustomize renders; a file is parsed only when it mentions a kind that
// some rendered object has (`kind: <Kind>` on a line of its own), so a repository whose overlays
// render no custom resource of a vendored CRD pays for reading the files, not for parsing them
// (the Rollout CRD alone is half a megabyte of YAML).
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { ValidationError } from "../core/errors.ts";
import { TOOLS_ROOT } from "../core/paths.ts";
import { parseYamlStream, type KubeObject } from "../core/yaml.ts";
import type { Finding, VendoredCrd } from "../rules/types.ts";

export const CRD_DIR = "crds";

export interface CrdFile {
  source: string;
  text: string;
}

async function readDir(root: string, dir: string): Promise<CrdFile[]> {
  let names: string[];
  try {
    names = (await readdir(dir, { recursive: true })).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return [];
    throw error;
  }
  return Promise.all(names.map(async (name) => ({ source: relative(root, join(dir, name)).split(sep).join("/"), text: await readFile(join(dir, name), "utf8") })));
}

/**
 * Every YAML file under the repository's crds/, then under the tools' own crds/ when the
 * repository is another checkout (`--root examples/<name>`): the CRDs the tools ship serve every
 * repository they check, and a repository's own CRD of the same kind comes first (it wins).
 */
export async function readCrdFiles(root: string): Promise<CrdFile[]> {
  const own = join(resolve(root), CRD_DIR);
  const shipped = join(TOOLS_ROOT, CRD_DIR);
  const [mine, tools] = await Promise.all([readDir(root, own), own === shipped ? [] : readDir(root, shipped)]);
  return [...mine, ...tools];
}

/** The CRDs of those files that define a kind of the given objects; YAML errors become findings. */
export function selectCrds(files: readonly CrdFile[], objects: readonly KubeObject[]): { crds: VendoredCrd[]; findings: Finding[] } {
  const kinds = new Set(objects.filter((o) => typeof o.apiVersion === "string" && o.apiVersion.includes("/")).map((o) => o.kind).filter((k): k is string => typeof k === "string" && /^[A-Za-z0-9]+$/.test(k)));
  const crds: VendoredCrd[] = [];
  const findings: Finding[] = [];
  if (kinds.size === 0) return { crds, findings };
  const mentions = new RegExp(`^[ \\t]*kind:[ \\t]*["']?(?:${[...kinds].join("|")})["']?[ \\t]*$`, "m");
  for (const file of files) {
    if (!mentions.test(file.text)) continue;
    try {
      for (const object of parseYamlStream(file.text, file.source)) {
        const kind = (object.spec as { names?: { kind?: string } } | undefined)?.names?.kind;
        if (object.kind === "CustomResourceDefinition" && kind && kinds.has(kind)) crds.push({ source: file.source, object });
      }
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      findings.push(...error.problems.map((p) => ({ rule: "yaml/parse", file: p.file, path: p.path, message: p.message })));
    }
  }
  return { crds, findings };
}

/** The vendored CRDs that define a kind of the given objects. */
export async function vendoredCrds(root: string, objects: readonly KubeObject[]): Promise<{ crds: VendoredCrd[]; findings: Finding[] }> {
  return selectCrds(await readCrdFiles(root), objects);
}
