// The CustomResourceDefinitions a repository vendors: `crds/` at its root (any *.yaml below it),
// then those the tools ship in their own crds/. Two readers:
//   - readCrdFiles/selectCrds, for the strict schema rule: the files are read while kustomize
//     renders, and a file is parsed only when it mentions a kind that some rendered object has
//     and the schema packages do not know (`kind: <Kind>` on a line of its own), so a repository
//     whose overlays render no such custom resource pays for reading the files, not for parsing
//     them (the Rollout CRD alone is half a megabyte of YAML);
//   - loadCrdDefaults, for argocd/crd-list-defaults: reduced to the defaults their schemas declare
//     (rules/crd-defaults.ts). Parsing them with the full YAML parser costs about as much as a
//     kustomize render, for an answer that only changes with the files: the index is cached in
//     .tools/ (gitignored), keyed by a hash of the files' names and contents. A missing, stale or
//     unreadable cache only means parsing again.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { ValidationError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";
import { TOOLS_ROOT } from "../core/paths.ts";
import { parseYamlStream, type KubeObject } from "../core/yaml.ts";
import { crdDefaults, type CrdDefaults } from "../rules/crd-defaults.ts";
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
  const ownDir = join(resolve(root), CRD_DIR);
  const shipped = join(TOOLS_ROOT, CRD_DIR);
  const [mine, tools] = await Promise.all([readDir(root, ownDir), ownDir === shipped ? [] : readDir(root, shipped)]);
  // A repository that vendors the same file as the tools (a copy of this layout) reads it once.
  const own = new Set(mine.map((f) => f.text));
  return [...mine, ...tools.filter((f) => !own.has(f.text))];
}

/**
 * The CRDs of those files that define a kind of the given objects, leaving out the kinds the
 * schema packages know (`packaged`: they answer for those); YAML errors become findings.
 */
export function selectCrds(
  files: readonly CrdFile[],
  objects: readonly KubeObject[],
  packaged: (apiVersion: string, kind: string) => boolean = () => false,
): { crds: VendoredCrd[]; findings: Finding[] } {
  const kinds = new Set(
    objects
      .filter((o) => typeof o.apiVersion === "string" && o.apiVersion.includes("/") && !packaged(o.apiVersion, String(o.kind)))
      .map((o) => o.kind)
      .filter((k): k is string => typeof k === "string" && /^[A-Za-z0-9]+$/.test(k)),
  );
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

const CACHE = join(TOOLS_ROOT, ".tools", ".crd-defaults.json");

/** The defaults of crds/*.yaml under root; {} when there is no crds/ folder. Throws ValidationError on bad YAML. */
export async function loadCrdDefaults(root: string): Promise<CrdDefaults> {
  const dir = join(root, "crds");
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch {
    return {};
  }
  const texts = await Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
  const hash = createHash("sha256");
  names.forEach((n, i) => hash.update(`${n}\0${texts[i]}\0`));
  const key = hash.digest("hex");
  try {
    const cached = JSON.parse(readFileSync(CACHE, "utf8")) as { key?: string; defaults?: CrdDefaults };
    if (cached.key === key && cached.defaults) return cached.defaults;
  } catch {
    // parse below
  }
  const defaults = crdDefaults(names.flatMap((n, i) => parseYamlStream(texts[i]!, `crds/${n}`)));
  try {
    await writeFileAtomic(CACHE, `${JSON.stringify({ key, defaults })}\n`);
  } catch {
    // a cache that cannot be written costs the next run a parse, nothing else
  }
  return defaults;
}
