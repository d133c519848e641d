// What a render may read: files inside the repository, nothing else. Pull-request content is
// attacker-controlled, and kustomize follows whatever a kustomization names: `resources:` entries
// that are URLs (`https://…/x.yaml` is fetched over HTTP; `git::…`, `github.com/org/repo//dir?ref=`
// and `git@host:org/repo` run git against the network), file paths that kustomize loads over
// HTTP (its file loader accepts URLs for patches and generator files too), and symlinks or `../`
// paths that lead out of the checkout (issue 11, item 7). So before kustomize runs, every
// kustomization reachable from the overlay is walked and each path it names is resolved the way
// kustomize resolves it (relative to the kustomization's real directory) and then through every
// symlink (realpath); anything remote or outside the repository is a problem with its file and line.
//
// The fields are those of kustomize's types.Kustomization (api/types/kustomization.go) that name
// files or directories. Inline entries (a patch or plugin config written as YAML text) name none.
// Paths that do not exist are left to kustomize, which reports them itself, unless they look
// like a remote address: kustomize tries a missing local resource as a remote one.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { ValidationError, type SourceProblem } from "../core/errors.ts";
import { parseYaml } from "../core/yaml.ts";

export const REMOTE_RULE = "render/remote-resource";
export const OUTSIDE_RULE = "render/outside-repository";
export const UNREADABLE_RULE = "render/unreadable-kustomization";

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/** Where a path may be: a file or a kustomization directory (resources), or a file only. */
type Expect = "file-or-dir" | "file";

interface Entry {
  value: string;
  /** Field path inside the kustomization, e.g. `configMapGenerator[0].files[1]`. */
  path: string;
  expect: Expect;
}

/** A URL scheme (http, https, ssh, git, file, s3…), go-getter's `git::` forced getter, or scp-like `user@host:path`. */
const REMOTE_SYNTAX = /^(?:[a-z][a-z0-9+.-]*:\/\/|[a-z0-9]+::|[^/\s@]+@[^/\s:]+:)/i;

/**
 * True for what kustomize would fetch rather than read: explicit remote syntax always, and a path
 * that does not exist locally when it looks like `host.tld/org/repo…`, or carries a `?ref=` /
 * `?version=` query or a `//` subdirectory marker (kustomize's remote-target grammar).
 */
export function looksRemote(value: string, existsLocally: boolean): boolean {
  if (REMOTE_SYNTAX.test(value)) return true;
  if (existsLocally) return false;
  const first = value.split("/", 1)[0] ?? "";
  return /^[^.][^/]*\.[a-z]{2,}(?::\d+)?$/i.test(first) || /[?&](?:ref|version|timeout|submodules)=/.test(value) || /[^:/]\/\/[^/]/.test(value);
}

/** A patch or plugin config written in place (YAML text, or one line of JSON), not a path. */
function isInline(value: string): boolean {
  return value.includes("\n") || /^\s*[{[]/.test(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v)) : [];
}

/** Every path a kustomization names, with the field it sits in. */
export function kustomizationEntries(k: Record<string, unknown>): Entry[] {
  const out: Entry[] = [];
  const add = (value: unknown, path: string, expect: Expect) => {
    if (typeof value === "string" && value !== "" && !isInline(value)) out.push({ value, path, expect });
  };
  const list = (field: string, expect: Expect) => {
    if (Array.isArray(k[field])) (k[field] as unknown[]).forEach((v, i) => add(v, `${field}[${i}]`, expect));
  };
  list("resources", "file-or-dir");
  list("bases", "file-or-dir");
  list("components", "file-or-dir");
  list("crds", "file");
  list("configurations", "file");
  list("patchesStrategicMerge", "file");
  // Plugin configs: a file, or a directory holding a kustomization whose output are the configs.
  list("generators", "file-or-dir");
  list("transformers", "file-or-dir");
  list("validators", "file-or-dir");
  for (const field of ["patches", "patchesJson6902", "replacements"]) {
    records(k[field]).forEach((r, i) => add(r.path, `${field}[${i}].path`, "file"));
  }
  const openapi = k.openapi as Record<string, unknown> | undefined;
  if (openapi && typeof openapi === "object") add(openapi.path, "openapi.path", "file");
  for (const field of ["configMapGenerator", "secretGenerator"]) {
    records(k[field]).forEach((g, i) => {
      strings(g.files).forEach((f, j) => {
        // `key=path`: the key names the data entry, the rest is the file.
        const eq = f.indexOf("=");
        add(eq >= 0 ? f.slice(eq + 1) : f, `${field}[${i}].files[${j}]`, "file");
      });
      strings(g.envs).forEach((f, j) => add(f, `${field}[${i}].envs[${j}]`, "file"));
      add(g.env, `${field}[${i}].env`, "file");
    });
  }
  // Helm stays disabled (kustomize refuses helmCharts without --enable-helm, which is never
  // passed); its local paths are checked all the same, and a chart repository is remote.
  records(k.helmCharts).forEach((h, i) => {
    if (typeof h.repo === "string" && h.repo !== "") out.push({ value: h.repo, path: `helmCharts[${i}].repo`, expect: "file-or-dir" });
    add(h.valuesFile, `helmCharts[${i}].valuesFile`, "file");
    strings(h.additionalValuesFiles).forEach((f, j) => add(f, `helmCharts[${i}].additionalValuesFiles[${j}]`, "file"));
  });
  const globals = k.helmGlobals as Record<string, unknown> | undefined;
  if (globals && typeof globals === "object") {
    add(globals.chartHome, "helmGlobals.chartHome", "file-or-dir");
    add(globals.configHome, "helmGlobals.configHome", "file-or-dir");
  }
  return out;
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    // The libc realpath: the same answer as the JS one, several times cheaper per call.
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * What a render reads (for the render cache, cache.ts): every file by its real path, and what
 * was looked for and not found. `complete` is false when the walk met something whose reading it
 * cannot vouch for (a directory where kustomize expects a file, an unreadable kustomization):
 * such a render is never cached.
 */
export interface SourceInputs {
  /** Real absolute paths of every file kustomize reads: kustomizations, resources, patches, generator files. */
  files: Set<string>;
  /** Kustomization directories (real paths) with the kustomization file names present in each. */
  dirs: Map<string, string[]>;
  /** Paths named but absent (resolved lexically): creating one changes the render. */
  missing: Set<string>;
  complete: boolean;
}

/**
 * Walks every kustomization reachable from `dir` and returns what would make kustomize read from
 * the network or from outside `root`. Synchronous on purpose: a few small files, read before the
 * render starts (it must not start before this has answered).
 */
export function unsafeSources(root: string, dir: string): SourceProblem[] {
  return walkSources(root, dir).problems;
}

/** One entry of a kustomization, resolved. */
type Resolved =
  | { kind: "problem"; problem: SourceProblem }
  | { kind: "missing"; path: string }
  | { kind: "file"; real: string }
  | { kind: "dir"; lexical: string; at: { file: string; path: string } }
  | { kind: "incomplete" };

/** What one kustomization directory (by real path) holds, independent of who reached it. */
interface DirFacts {
  names: string[];
  /** The kustomization's real path, when it is read. */
  file: string | undefined;
  /** Problems of the directory itself and of its entries, in entry order. */
  resolved: Resolved[];
  complete: boolean;
}

/**
 * What walks in one run have learnt about each directory. A fleet's overlays share their bases:
 * with a memo each base is read, parsed and resolved once per run instead of once per overlay.
 * Only for the length of a run in which nothing writes to the tree (`check`, `diff`: the render
 * cache owns one); a later run starts empty.
 */
export class SourceMemo {
  readonly dirs = new Map<string, DirFacts>();
  readonly realpaths = new Map<string, string | undefined>();
  /** Each kustomization the walks parsed, by real path. */
  readonly values = new Map<string, unknown>();
  /** What a walk parsed from the kustomization file at `path`, or undefined (not walked, not parsed). */
  parsed(path: string): unknown {
    const real = this.realpath(path);
    return real === undefined ? undefined : this.values.get(real);
  }
  realpath(path: string): string | undefined {
    if (this.realpaths.has(path)) return this.realpaths.get(path);
    const real = realpathOrUndefined(path);
    this.realpaths.set(path, real);
    return real;
  }
}

/** The same walk, also returning every input of the render (see SourceInputs). */
export function walkSources(root: string, dir: string, memo?: SourceMemo): { problems: SourceProblem[]; inputs: SourceInputs } {
  const realpath = memo ? (p: string) => memo.realpath(p) : realpathOrUndefined;
  const rootReal = realpath(root) ?? resolve(root);
  const problems: SourceProblem[] = [];
  const visited = new Set<string>();
  const display = (path: string) => relative(rootReal, path) || ".";
  const inputs: SourceInputs = { files: new Set(), dirs: new Map(), missing: new Set(), complete: true };

  /** Reads and resolves one kustomization directory (inside the repository, by real path). */
  const factsOf = (real: string): DirFacts => {
    const known = memo?.dirs.get(real);
    if (known) return known;
    const facts: DirFacts = { names: [], file: undefined, resolved: [], complete: true };
    memo?.dirs.set(real, facts);
    // kustomize refuses a directory with more than one of these: which exist is an input too.
    facts.names = KUSTOMIZATION_FILES.filter((n) => existsSync(join(real, n)));
    const name = facts.names[0];
    if (!name) return facts;
    const fileReal = realpath(join(real, name));
    const file = display(join(real, name));
    if (!fileReal || !inside(fileReal, rootReal)) {
      if (fileReal) facts.resolved.push({ kind: "problem", problem: { rule: OUTSIDE_RULE, file, path: "", message: `is a symlink to ${fileReal}, outside the repository` } });
      facts.complete = false;
      return facts;
    }
    facts.file = fileReal;
    let value: unknown;
    try {
      value = parseYaml(readFileSync(fileReal, "utf8"), file);
    } catch (error) {
      // A kustomization this walk cannot see into is not handed to kustomize (whose YAML parser
      // might read it differently, entries and all): refused with the parser's own message.
      const detail = error instanceof ValidationError ? error.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("; ") : (error as Error).message;
      facts.resolved.push({ kind: "problem", problem: { rule: UNREADABLE_RULE, file, path: "", message: `cannot be read as YAML (${detail}); not rendered` } });
      facts.complete = false;
      return facts;
    }
    memo?.values.set(fileReal, value);
    if (!value || typeof value !== "object" || Array.isArray(value)) return facts;
    for (const entry of kustomizationEntries(value as Record<string, unknown>)) {
      const target = isAbsolute(entry.value) ? entry.value : join(real, entry.value);
      const targetReal = realpath(target);
      const at = { file, path: entry.path };
      if (looksRemote(entry.value, targetReal !== undefined)) {
        facts.resolved.push({
          kind: "problem",
          problem: {
            rule: REMOTE_RULE,
            ...at,
            message: `${JSON.stringify(entry.value)} is a remote address: a render reads only files inside the repository (content fetched at render time can change after review)`,
          },
        });
        continue;
      }
      if (!targetReal) {
        // Missing: only a path that climbs out of the repository is ours to refuse.
        if (!inside(resolve(target), rootReal)) facts.resolved.push({ kind: "problem", problem: outside(at, entry.value, resolve(target), rootReal) });
        facts.resolved.push({ kind: "missing", path: resolve(target) });
        continue;
      }
      if (!inside(targetReal, rootReal)) {
        facts.resolved.push({ kind: "problem", problem: outside(at, entry.value, targetReal, rootReal) });
        continue;
      }
      if (statSync(targetReal).isDirectory()) {
        if (entry.expect === "file-or-dir") facts.resolved.push({ kind: "dir", lexical: target, at });
        // A directory where kustomize wants a file: what it would read there is not known here.
        else facts.resolved.push({ kind: "incomplete" });
      } else {
        facts.resolved.push({ kind: "file", real: targetReal });
      }
    }
    return facts;
  };

  const visitDir = (lexical: string, from: { file: string; path: string } | undefined) => {
    const real = realpath(lexical);
    if (!real) {
      inputs.missing.add(resolve(lexical));
      return; // missing: kustomize says so
    }
    if (!inside(real, rootReal)) {
      problems.push(outside(from ?? { file: display(resolve(lexical)), path: "" }, lexical, real, rootReal));
      return;
    }
    if (visited.has(real)) return;
    visited.add(real);
    const facts = factsOf(real);
    inputs.dirs.set(real, facts.names);
    if (facts.file) inputs.files.add(facts.file);
    if (!facts.complete) inputs.complete = false;
    for (const r of facts.resolved) {
      if (r.kind === "problem") problems.push(r.problem);
      else if (r.kind === "missing") inputs.missing.add(r.path);
      else if (r.kind === "file") inputs.files.add(r.real);
      else if (r.kind === "incomplete") inputs.complete = false;
      else visitDir(r.lexical, r.at);
    }
  };

  visitDir(dir, undefined);
  // Lines are attached by locateSourceLines: the YAML parser with positions is loaded only when
  // there is a problem to point at.
  return { problems, inputs };
}

function outside(at: { file: string; path: string }, value: string, real: string, root: string): SourceProblem {
  const how = real === resolve(value) || isAbsolute(value) ? "" : " (through a symlink or `..`)";
  return {
    rule: OUTSIDE_RULE,
    ...at,
    message: `${JSON.stringify(value)} resolves to ${real}${how}, outside the repository ${root}: a render reads only files inside it`,
  };
}

/** Attaches the line of each problem's field (loads the positional YAML parser: only on problems). */
export async function locateSourceLines(root: string, problems: SourceProblem[]): Promise<SourceProblem[]> {
  if (problems.length === 0) return problems;
  const { locateLine } = await import("../check/locate.ts");
  const rootReal = realpathOrUndefined(root) ?? resolve(root);
  return problems.map((p) => {
    if (!p.path) return p;
    let text: string;
    try {
      text = readFileSync(join(rootReal, p.file), "utf8");
    } catch {
      return p;
    }
    return { ...p, line: locateLine(text, undefined, undefined, p.path) };
  });
}
