// The CustomResourceDefinitions vendored in crds/, reduced to the defaults their schemas declare
// (rules/crd-defaults.ts). Parsing them with the full YAML parser costs about as much as a
// kustomize render, for an answer that only changes with the files: the index is cached in
// .tools/ (gitignored), keyed by a hash of the files' names and contents. A missing, stale or
// unreadable cache only means parsing again.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../core/fs.ts";
import { TOOLS_ROOT } from "../core/paths.ts";
import { parseYamlStream } from "../core/yaml.ts";
import { crdDefaults, type CrdDefaults } from "../rules/crd-defaults.ts";

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
