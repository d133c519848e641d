// The render cache (issue 12, item 3): `check` and `diff` reuse a render whose inputs have not
// changed. An entry is found by a key that is the SHA-256 of everything the output depends on:
//   - the content of every file kustomize reads for the overlay (the closure of its resources,
//     components, patches, generators' files and the kustomizations themselves, found by the
//     same walk that confines the render: sources.ts), each by its path relative to the
//     repository, plus which kustomization file names exist in every directory visited and which
//     named paths are absent (creating one changes the render);
//   - the kustomize version and flavour (kubectl or standalone), and the build arguments;
//   - the overlay's path relative to the repository and this file's format number.
// Content hashes, never modification times: a checkout, a `git stash` or a copy keeps the key
// exactly when it keeps the bytes. A render whose inputs the walk cannot vouch for (sources.ts
// `complete`) and a failed render are never cached.
//
// An entry is a file `<key>.entry` under `.cache/renders/` (gitignored), written atomically: a
// JSON header line with its key, the kustomize version and the SHA-256 of the rest, then the
// output and its parsed objects as JSON (a hit costs no YAML parsing: only changed overlays are
// parsed; see encodeEntry). It is used only when
// all three match what this run computed; anything else (unreadable, truncated, another format or
// version, output that does not match its digest, a file renamed to another key) is ignored and
// the overlay rendered again: never fatal, never trusted.
//
// Pull-request content is hostile. The key is computable by anyone, so an entry cannot prove who
// wrote it: a pull request could commit `.cache/renders/<key>.json` holding a harmless render of
// a harmful overlay. So entries are only ever read from a cache that git does not track: when
// anything under `.cache/` is tracked (or the cache directory resolves elsewhere through a
// symlink), the cache is not read or written for the whole run, and `check` reports it
// (`render/cache-committed`). In CI the directory comes back through actions/cache, whose
// entries a pull request can only write into its own scope (GitHub: "Restrictions for accessing
// a cache"), and is restored from the base branch's entries, which its own runs wrote.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync, statSync, utimesSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { writeFileAtomic, writeFileAtomicSync } from "../core/fs.ts";
import type { KubeObject } from "../core/yaml.ts";
import { trackedPaths } from "../git/git.ts";
import { SourceMemo, type SourceInputs } from "./sources.ts";

/** The file name of an entry is its key and this. */
export const ENTRY_SUFFIX = ".entry";
/** Bumped whenever what an entry holds or how a key is made changes. */
export const CACHE_FORMAT = 2;
/** Repository-relative folder of the entries (listed in .gitignore). */
export const CACHE_DIR = ".cache/renders";
/** Entries not used for this long are removed by prune(). */
const MAX_AGE_MS = 14 * 24 * 3600 * 1000;
/** A hit marks its entry as used when it was last marked longer ago than this. */
const TOUCH_AFTER_MS = 24 * 3600 * 1000;

/**
 * An entry on disk (format 2): one line of JSON (the header below), then the output exactly as
 * kustomize printed it (`outputLength` UTF-16 units), then its parsed objects as JSON text
 * (tools/core/yaml.ts; "null" when the output did not parse). A hit parses the objects once and
 * slices the output out, and the digest is computed over both as stored.
 */
interface Header {
  format: number;
  key: string;
  kustomize: string;
  overlay: string;
  /** entryDigest(output, objects). */
  sha256: string;
  outputLength: number;
}

/** What an entry file holds, read but not yet trusted. */
export interface EntryParts {
  format: number;
  key: string;
  kustomize: string;
  overlay: string;
  sha256: string;
  output: string;
  objects: string;
}

export function encodeEntry(e: Omit<EntryParts, "format"> & { format?: number }): string {
  const header: Header = { format: e.format ?? CACHE_FORMAT, key: e.key, kustomize: e.kustomize, overlay: e.overlay, sha256: e.sha256, outputLength: e.output.length };
  return `${JSON.stringify(header)}\n${e.output}${e.objects}`;
}

/** The parts of an entry file, or undefined when it is not one (no trust decision here). */
export function decodeEntry(text: string): EntryParts | undefined {
  const newline = text.indexOf("\n");
  if (newline < 0) return undefined;
  let header: Partial<Header>;
  try {
    header = JSON.parse(text.slice(0, newline)) as Partial<Header>;
  } catch {
    return undefined;
  }
  if (!header || typeof header !== "object") return undefined;
  const { format, key, kustomize, overlay, sha256: digest, outputLength } = header;
  if (typeof format !== "number" || typeof key !== "string" || typeof kustomize !== "string" || typeof overlay !== "string" || typeof digest !== "string") return undefined;
  if (typeof outputLength !== "number" || !Number.isInteger(outputLength) || outputLength < 0 || newline + 1 + outputLength > text.length) return undefined;
  const output = text.slice(newline + 1, newline + 1 + outputLength);
  return { format, key, kustomize, overlay, sha256: digest, output, objects: text.slice(newline + 1 + outputLength) };
}

export interface CachedRender {
  output: string;
  objects: KubeObject[] | null;
}

const sha256 = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

/** What an entry's digest covers: the output and its parsed objects (JSON text), NUL between. */
export function entryDigest(output: string, objects: string): string {
  return createHash("sha256").update(output).update("\0").update(objects).digest("hex");
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries found but not trusted (corrupt, foreign, tampered). */
  rejected: number;
  writes: number;
}

/**
 * `.cache/.gitignore` ignoring everything, itself included (as pytest's cache does), whatever the
 * repository's own .gitignore says (a fork may lack the line). `cacheFolder` is `.cache/`.
 */
export async function ignoreCacheFolder(cacheFolder: string): Promise<void> {
  const ignore = join(cacheFolder, ".gitignore");
  if (!existsSync(ignore)) await writeFileAtomic(ignore, "# Written by the render cache (tools/render/cache.ts): nothing here belongs in git.\n*\n");
}

export class RenderCache {
  readonly dir: string;
  /** Why the cache is off for this run (then nothing is read or written), or undefined. */
  readonly refused: string | undefined;
  readonly stats: CacheStats = { hits: 0, misses: 0, rejected: 0, writes: 0 };
  /** Content digests by real path, for this run only (a later run hashes again). */
  private readonly digests = new Map<string, string | null>();
  /** What the walks of this run learnt about each kustomization directory (sources.ts). */
  readonly sources = new SourceMemo();
  /** The key lines of this run's inputs (key()), by kind, root, path and what follows. */
  private readonly lines = new Map<string, string>();
  private ignoreWritten = false;
  private dirReady = false;

  private constructor(dir: string, refused: string | undefined) {
    this.dir = dir;
    this.refused = refused;
  }

  /**
   * The cache of the repository at `root`. `tracked` lists the repository-relative paths git
   * tracks under `.cache/` (tools/git/git.ts trackedPaths): any makes the cache refused.
   */
  static open(root: string, tracked: string[]): RenderCache {
    const dir = join(resolve(root), CACHE_DIR);
    if (tracked.length) {
      return new RenderCache(dir, `${tracked.slice(0, 3).join(", ")}${tracked.length > 3 ? ` and ${tracked.length - 3} more` : ""} ${tracked.length === 1 ? "is" : "are"} committed: render cache entries are never read from git (anyone can write one that hides a finding); remove ${tracked.length === 1 ? "it" : "them"} from git`);
    }
    let rootReal: string;
    try {
      rootReal = realpathSync(root);
    } catch {
      rootReal = resolve(root);
    }
    let real: string | undefined;
    try {
      real = realpathSync(dir);
    } catch {
      real = undefined; // not there yet: created on the first write
    }
    if (real !== undefined && real !== join(rootReal, CACHE_DIR)) return new RenderCache(dir, `${CACHE_DIR} resolves to ${real} through a symlink: the render cache is off`);
    return new RenderCache(dir, undefined);
  }

  /** The cache of the repository at `root`, refused when git tracks anything under `.cache/`. */
  static async forRepository(root: string): Promise<RenderCache> {
    return RenderCache.open(root, await trackedPaths(root, ".cache"));
  }

  /** A cache that is never read or written (--no-cache). */
  static disabled(root: string, reason = "disabled"): RenderCache {
    return new RenderCache(join(resolve(root), CACHE_DIR), reason);
  }

  get enabled(): boolean {
    return this.refused === undefined;
  }

  private digest(path: string): string | null {
    let d = this.digests.get(path);
    if (d === undefined) {
      try {
        d = sha256(readFileSync(path));
      } catch {
        d = null;
      }
      this.digests.set(path, d);
    }
    return d;
  }

  /**
   * The key of a render of `overlay` (real absolute path) in the repository `root` with these
   * inputs, kustomize and arguments; undefined when it must not be cached.
   */
  key(root: string, overlay: string, inputs: SourceInputs, kustomize: { version: string; flavour: string }, args: readonly string[]): string | undefined {
    if (!this.enabled || !inputs.complete) return undefined;
    const rootReal = this.sources.realpath(root) ?? resolve(root);
    // Each input's line is made once per run: a fleet's overlays share most of theirs.
    const line = (kind: string, path: string, rest = ""): string => {
      const id = `${kind}\0${rootReal}\0${path}\0${rest}`;
      let text = this.lines.get(id);
      if (text === undefined) {
        text = `${kind} ${JSON.stringify(relative(rootReal, path))}${rest}`;
        this.lines.set(id, text);
      }
      return text;
    };
    const lines: string[] = [];
    for (const file of inputs.files) {
      const d = this.digest(file);
      if (d === null) return undefined; // unreadable: kustomize will say what it thinks
      lines.push(line("file", file, ` ${d}`));
    }
    for (const [dir, names] of inputs.dirs) lines.push(line("dir", dir, ` ${JSON.stringify(names)}`));
    for (const path of inputs.missing) lines.push(line("missing", path));
    lines.sort();
    // `args` are the build arguments without the overlay's path, which is relative here: the
    // same tree elsewhere (diff's export of the base revision) finds the same entries.
    const header = JSON.stringify({ format: CACHE_FORMAT, kustomize: kustomize.version, flavour: kustomize.flavour, overlay: relative(rootReal, overlay), args });
    return sha256(`${header}\n${lines.join("\n")}\n`);
  }

  private file(key: string): string {
    return join(this.dir, `${key}${ENTRY_SUFFIX}`);
  }

  /** The cached render for `key`, or undefined (absent, or not trusted). */
  async get(key: string, kustomize: string): Promise<CachedRender | undefined> {
    if (!this.enabled) return undefined;
    const file = this.file(key);
    let text: string;
    let mtimeMs: number;
    try {
      // Synchronous: a few tens of KB, cheaper than the promise machinery around them.
      text = readFileSync(file, "utf8");
      mtimeMs = statSync(file).mtimeMs;
    } catch {
      this.stats.misses++;
      return undefined;
    }
    const entry = decodeEntry(text);
    const trusted = entry !== undefined && entry.format === CACHE_FORMAT && entry.key === key && entry.kustomize === kustomize && entryDigest(entry.output, entry.objects) === entry.sha256;
    let objects: unknown;
    try {
      objects = trusted ? JSON.parse(entry.objects) : undefined;
    } catch {
      objects = undefined;
    }
    if (!trusted || (objects !== null && !Array.isArray(objects))) {
      this.stats.rejected++;
      return undefined;
    }
    this.stats.hits++;
    // Marks it as used (prune() removes what no run has used for a while), at most once a day;
    // best effort.
    const now = Date.now();
    if (now - mtimeMs > TOUCH_AFTER_MS) {
      try {
        utimesSync(file, now / 1000, now / 1000);
      } catch {
        // read-only cache: it just ages
      }
    }
    return { output: entry.output, objects: objects as KubeObject[] | null };
  }

  /** Stores a successful render; a cache that cannot be written costs the next run a render, nothing else. */
  async put(key: string, kustomize: string, overlay: string, output: string, objects: KubeObject[] | null): Promise<void> {
    if (!this.enabled) return;
    const json = JSON.stringify(objects);
    const text = encodeEntry({ key, kustomize, overlay, sha256: entryDigest(output, json), output, objects: json });
    try {
      // Ignored by git whatever the repository's .gitignore says (a fork may lack the line):
      // `.cache/.gitignore` ignores everything, itself included, as pytest's cache does.
      if (!this.ignoreWritten) {
        this.ignoreWritten = true;
        await ignoreCacheFolder(join(this.dir, ".."));
      }
      // Synchronous: a cold check of a fleet writes hundreds of entries.
      writeFileAtomicSync(this.file(key), text, this.dirReady);
      this.dirReady = true;
      this.stats.writes++;
    } catch {
      // read-only checkout, full disk: not this run's problem
    }
  }

  /**
   * Removes entries no run has used for two weeks, temp files of killed writers (after an hour)
   * and entries of the first format (`<key>.json`, never read since). `check` and `diff` call it
   * after a run that wrote entries, so a cache grows with what changes and not forever.
   */
  async prune(now = Date.now()): Promise<number> {
    if (!this.enabled) return 0;
    let removed = 0;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const legacy = /^[0-9a-f]{64}\.json$/.test(name);
      if (!name.endsWith(ENTRY_SUFFIX) && !name.endsWith(".tmp") && !legacy) continue;
      const path = join(this.dir, name);
      try {
        const s = await stat(path);
        const limit = legacy ? -Infinity : name.endsWith(".tmp") ? 3600 * 1000 : MAX_AGE_MS;
        if (now - s.mtimeMs > limit) {
          await rm(path, { force: true });
          removed++;
        }
      } catch {
        // gone meanwhile
      }
    }
    return removed;
  }
}
