// The YAML text of generate's documents. Every `pnpm check` plans every generated file to report
// drift (issue 12): at 300 overlays that is ~1,700 documents, and emitting them with `yaml` was
// most of the plan's time. The emitter stays `yaml` (what every generated file holds, byte for
// byte; js-yaml differs: it quotes `yes`, `on`, `1:20`, ...): what it wrote for a value is
// remembered by the value's content instead, so that a document is emitted once and looked up after.
//
// A document is remembered under the SHA-256 of the emitter's identity (yaml's version, the
// options, FORMAT) and the value's canonical form: every string, number, boolean, null and
// undefined with its type, every key in order, every Scalar with its quoting. A value holding
// anything else (a Date, a class instance, a node with a comment) or the same object twice
// (`yaml` writes an anchor and an alias for that) is emitted every time, never remembered.
//
// In this process the entries are kept in memory. Across runs they are kept in
// .cache/generate/yaml.json, under the render cache's rules (tools/render/cache.ts): only where
// the render cache is on (git tracks nothing under .cache/; the folder does not lead elsewhere
// through a symlink), a file whose digest does not match is ignored, and an unreadable or
// unwritable file costs the emitting, never the result.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { isScalar, stringify } from "yaml";
import { writeFileAtomic } from "../core/fs.ts";
import { ignoreCacheFolder } from "../render/cache.ts";

/** Bumped whenever what the file holds or how a key is made changes. */
const FORMAT = 1;
const OPTIONS = { lineWidth: 0, indentSeq: true } as const;
/** Repository-relative path of the entries (under .cache/, ignored by git). */
export const EMIT_CACHE_FILE = ".cache/generate/yaml.json";

function yamlVersion(): string {
  try {
    const main = createRequire(import.meta.url).resolve("yaml");
    for (let dir = dirname(main); dir !== dirname(dir); dir = dirname(dir)) {
      const file = join(dir, "package.json");
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "yaml" && pkg.version) return pkg.version;
    }
  } catch {
    // below
  }
  return "unknown";
}

let version: string | undefined;
let identity: string | undefined;
function emitterIdentity(): string {
  version ??= yamlVersion();
  identity ??= JSON.stringify({ format: FORMAT, emitter: `yaml@${version}`, options: OPTIONS });
  return identity;
}

/** The document as `yaml` writes it. */
export function emitDirect(value: unknown): string {
  return stringify(value, OPTIONS);
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * The value's content as one string, different for any two values `yaml` could write differently;
 * undefined for a value that is not remembered (see the header). JSON.stringify writes every
 * string, number, boolean, null, key and nesting (the walk first makes sure there is nothing JSON
 * would drop or merge: undefined in a list, -0, NaN, an object of a class, a repeated object);
 * after it come the Scalars, which JSON writes as their bare value, by position and quoting.
 */
export function canonicalForm(value: unknown): string | undefined {
  const seen = new Set<object>();
  let leaf = 0;
  let scalars = "";
  const walk = (v: unknown): boolean => {
    switch (typeof v) {
      case "string":
      case "boolean":
        leaf++;
        return true;
      case "number":
        leaf++;
        return Number.isFinite(v) && !Object.is(v, -0);
      case "object":
        break;
      default:
        return false;
    }
    if (v === null) {
      leaf++;
      return true;
    }
    if (seen.has(v)) return false;
    seen.add(v);
    if (isScalar(v)) {
      // Only a value and its quoting: a comment, tag, anchor or format is not remembered.
      if (Object.keys(v).some((k) => k !== "value" && k !== "type")) return false;
      const inner = v.value;
      if (inner !== null && typeof inner !== "string" && typeof inner !== "boolean" && typeof inner !== "number") return false;
      scalars += `${leaf}:${v.type ?? ""};`;
      return walk(inner);
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (Array.isArray(v)) {
      if (proto !== Array.prototype) return false;
      for (let i = 0; i < v.length; i++) if (v[i] === undefined || !walk(v[i])) return false;
      return true;
    }
    if (proto !== Object.prototype && proto !== null) return false;
    if (Object.getOwnPropertySymbols(v).length) return false;
    for (const key of Object.keys(v)) {
      const item = (v as Record<string, unknown>)[key];
      // Left out by JSON and by yaml alike.
      if (item !== undefined && !walk(item)) return false;
    }
    return true;
  };
  return walk(value) ? `${JSON.stringify(value)}\0${scalars}` : undefined;
}

/** Entries of this process, by key; dropped whole when they grow past this (a long test run). */
const inProcess = new Map<string, string>();
const IN_PROCESS_LIMIT = 50_000;

/**
 * The keys each file held when this process last read or wrote it: a run whose documents this
 * process already has does not read the file again to learn that it holds them too.
 */
const keptIn = new Map<string, Set<string>>();

/** Forgets what this process emitted and read (a test of the file's entries). */
export function forgetEmitted(): void {
  inProcess.clear();
  keptIn.clear();
}

/**
 * Emits documents, each distinct one once: from this process's memory, else from `file` (read on
 * the first document memory lacks), else with `yaml`. What a run used is kept for the next.
 */
export class Emitter {
  private readonly used = new Map<string, string>();
  private stored: Map<string, string> | undefined;
  /** Documents emitted (not found in memory or the file). */
  misses = 0;
  hits = 0;

  constructor(private readonly file?: string) {}

  private load(): Map<string, string> {
    if (!this.stored) {
      this.stored = readEmitCache(this.file);
      if (this.file) keptIn.set(this.file, new Set(this.stored.keys()));
    }
    return this.stored;
  }

  yaml(value: unknown): string {
    const form = canonicalForm(value);
    if (form === undefined) return emitDirect(value);
    const key = sha256(`${emitterIdentity()}\0${form}`);
    let text = this.used.get(key) ?? inProcess.get(key) ?? this.load().get(key);
    if (text === undefined) {
      text = emitDirect(value);
      this.misses++;
    } else this.hits++;
    this.used.set(key, text);
    if (inProcess.size >= IN_PROCESS_LIMIT) inProcess.clear();
    inProcess.set(key, text);
    return text;
  }

  /** What to keep: this run's entries first, then earlier ones (another branch's), up to a bound. */
  entries(): [string, string][] {
    const out = [...this.used];
    const room = 2 * this.used.size + 1000;
    for (const entry of this.load()) {
      if (out.length >= this.used.size + room) break;
      if (!this.used.has(entry[0])) out.push(entry);
    }
    return out;
  }

  /** Whether the file lacks what this run used. */
  get changed(): boolean {
    if (!this.file) return false;
    if (!keptIn.has(this.file)) this.load();
    const kept = keptIn.get(this.file)!;
    for (const key of this.used.keys()) if (!kept.has(key)) return true;
    return false;
  }

  /** Records what the file holds now (written by writeEmitCache). */
  wrote(entries: [string, string][]): void {
    if (this.file) keptIn.set(this.file, new Set(entries.map(([k]) => k)));
  }
}

/**
 * The file: a line of JSON (format, emitter, the SHA-256 of the rest), then the entries as JSON
 * ([key, text][]), so that checking the digest needs no parsing.
 */
interface CacheHeader {
  format: number;
  emitter: string;
  sha256: string;
}

/** The file of a repository's entries, or undefined where none may be read (see the header). */
export function emitCachePath(root: string, renderCacheEnabled: boolean): string | undefined {
  // Entries of an emitter whose version cannot be told could be another version's: none kept.
  if (!renderCacheEnabled || (version ??= yamlVersion()) === "unknown") return undefined;
  const file = join(resolve(root), EMIT_CACHE_FILE);
  try {
    const dir = realpathSync(dirname(file));
    if (dir !== join(realpathSync(root), dirname(EMIT_CACHE_FILE))) return undefined;
  } catch {
    // not there yet: created on the first write
  }
  return file;
}

/** The entries kept in `file`; none when it is absent or not trusted. */
export function readEmitCache(file: string | undefined): Map<string, string> {
  if (!file) return new Map();
  try {
    const text = readFileSync(file, "utf8");
    const eol = text.indexOf("\n");
    const header = JSON.parse(text.slice(0, eol)) as Partial<CacheHeader>;
    const body = text.slice(eol + 1);
    if (header.format !== FORMAT || header.emitter !== emitterIdentity() || header.sha256 !== sha256(body)) return new Map();
    const entries = JSON.parse(body) as unknown;
    if (!Array.isArray(entries) || !entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && typeof e[1] === "string")) return new Map();
    return new Map(entries as [string, string][]);
  } catch {
    return new Map();
  }
}

/** Keeps the emitter's entries for the next run when it emitted anything new; best effort. */
export async function writeEmitCache(file: string | undefined, emitter: Emitter): Promise<void> {
  if (!file || !emitter.changed) return;
  const entries = emitter.entries();
  const body = JSON.stringify(entries);
  const header: CacheHeader = { format: FORMAT, emitter: emitterIdentity(), sha256: sha256(body) };
  try {
    await ignoreCacheFolder(join(dirname(file), ".."));
    await writeFileAtomic(file, `${JSON.stringify(header)}\n${body}`);
    emitter.wrote(entries);
  } catch {
    // read-only checkout, full disk: the next run emits again
  }
}
