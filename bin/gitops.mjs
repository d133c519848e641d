#!/usr/bin/env node
// The launcher behind every pnpm command script: `node bin/gitops.mjs <command> [options]`.
//
// It runs tools/cli.ts from a bundle that esbuild builds from this checkout's own tools/ sources,
// instead of through tsx, whose loader hooks run in a worker thread that every module import
// waits on (about 0.3-0.4 s of every command's start-up; issue 12). Behaviour is the same: the
// bundle is tools/cli.ts, run in this process (same stdout/stderr, TTY, NO_COLOR, exit codes).
//
// - The bundle is named by a digest of everything that decides its content: this checkout's path
//   (the bundle points into it), every file under tools/, package.json, the lockfile,
//   tsconfig.json (esbuild reads it), esbuild's version, node's major version and this file
//   (its build options). Contents, never modification times: a checkout, a `git stash` or an
//   editor can leave a changed file with an old mtime, and the stale bundle would run.
// - Missing: built with esbuild's API into a temp directory, renamed into place (atomic: two
//   launches racing on a cold cache both succeed, and neither imports a half-written bundle).
// - It is stored OUTSIDE the checkout ($GITOPS_CACHE_DIR, $XDG_CACHE_HOME/gitops-kit,
//   ~/.cache/gitops-kit, or <tmpdir>/gitops-kit-<uid>), never under the repository's .cache/:
//   the launcher executes what it imports, and anything a commit can contain is hostile (a pull
//   request could commit a "cached bundle" under its digest, and CI would run it instead of the
//   sources it reviewed). The directory must belong to this user and not be writable by others.
// - No esbuild, a failed build or an unusable cache: the same CLI through tsx (slower), with one
//   line on stderr saying why. GITOPS_NO_BUNDLE=1 asks for tsx outright (no note).
//   GITOPS_LAUNCHER_DEBUG=1 reports on stderr whether the bundle was built, reused, or tsx ran.
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TOOLS = join(ROOT, "tools");
const ENTRY = join(TOOLS, "cli.ts");
const DEBUG = process.env.GITOPS_LAUNCHER_DEBUG === "1";
/** Bundles of other digests kept besides the current one (another checkout state, a branch switch). */
const KEEP = 4;
/** A bundle younger than this is never pruned: a command started from it may still load its lazy chunks. */
const PRUNE_AFTER_MS = 10 * 60 * 1000;

const debug = (text) => DEBUG && process.stderr.write(`gitops launcher: ${text}\n`);

// The build options (part of the digest through this file's own text). The packages (zod, yaml,
// Octokit...) are bundled too: against keeping them external (each imported by its absolute path
// from the checkout's node_modules) this ran `check --help` and `check` as fast or slightly faster,
// with fewer files to load (README "Speed"). What tools/ loads at run time by path stays outside:
// kubernetes-models' compiled validators (tools/rules/schema.ts reads and links them itself),
// and the packages reached through createRequire(import.meta.url) (yaml, ajv).
function buildOptions(outdir) {
  return {
    entryPoints: { cli: ENTRY },
    bundle: true,
    splitting: true, // tools/ loads each command on demand; chunks keep that laziness
    format: "esm",
    platform: "node",
    target: `node${process.versions.node.split(".")[0]}`,
    outdir,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    conditions: [], // node's conditions only ("import"/"node"/"default"), not esbuild's extra "module"
    logLevel: "silent",
    write: true,
    legalComments: "none",
    // Linked, not inline: nothing to read on the normal path; NODE_OPTIONS=--enable-source-maps
    // makes the stack of an unexpected failure name tools/ files and lines (or GITOPS_NO_BUNDLE=1).
    sourcemap: "linked",
    sourcesContent: false,
    plugins: [sourceUrls()],
    // Bundled CommonJS packages call require() for node's modules; an ES module has no require.
    banner: { js: 'import { createRequire as __gitopsRequire } from "node:module"; const require = __gitopsRequire(import.meta.url);' },
  };
}

/**
 * import.meta.url in a tools/ module means that module's file (tools/core/paths.ts derives the
 * checkout from it, tools/rules/schema.ts finds kubernetes-models' compiled validators from it,
 * createRequire(import.meta.url) resolves packages from it). In a bundle it would be the bundle's
 * URL in the cache, so each tools/ file gets its own source URL written in.
 */
function sourceUrls() {
  return {
    name: "source-import-meta-url",
    setup(build) {
      build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
        if (relative(TOOLS, args.path).startsWith("..")) return undefined;
        const text = readFileSync(args.path, "utf8");
        return { contents: text.replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href)), loader: "ts" };
      });
    },
  };
}

/** Every file under dir, relative paths, sorted (the digest must not depend on readdir order). */
function filesUnder(dir, prefix = "") {
  const out = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...filesUnder(join(dir, d.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

function readOrNothing(file) {
  try {
    return readFileSync(file);
  } catch {
    return Buffer.from("\0missing\0");
  }
}

function esbuildVersion() {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", "esbuild", "package.json"), "utf8")).version;
  } catch {
    return undefined;
  }
}

function inputDigest(esbuildVer) {
  const hash = createHash("sha256");
  const part = (name, content) => {
    hash.update(`${name}\0${content.length}\0`);
    hash.update(content);
  };
  part("root", ROOT);
  part("node", process.versions.node.split(".")[0]);
  part("esbuild", esbuildVer ?? "none");
  part("launcher", readFileSync(fileURLToPath(import.meta.url)));
  for (const file of ["package.json", "pnpm-lock.yaml", "tsconfig.json"]) part(file, readOrNothing(join(ROOT, file)));
  for (const file of filesUnder(TOOLS)) part(`tools/${file}`, readFileSync(join(TOOLS, file)));
  return hash.digest("hex").slice(0, 32);
}

/** The cache directory, created if needed; undefined when no safe one exists. */
function cacheDir() {
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  const base = process.env.GITOPS_CACHE_DIR
    ? resolve(process.env.GITOPS_CACHE_DIR)
    : process.env.XDG_CACHE_HOME
      ? join(process.env.XDG_CACHE_HOME, "gitops-kit")
      : homeCache() ?? join(tmpdir(), `gitops-kit-${uid ?? "user"}`);
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const st = lstatSync(base);
  // In a shared directory (the tmpdir fallback) someone else could have made it first and put a
  // bundle there for us to run: it must be ours and writable by nobody else.
  if (!st.isDirectory()) throw new Error(`${base} is not a directory`);
  if (uid !== undefined && (st.uid !== uid || (st.mode & 0o022) !== 0)) throw new Error(`${base} belongs to another user or is writable by others`);
  return base;
}

function homeCache() {
  try {
    const home = homedir();
    return home ? join(home, ".cache", "gitops-kit") : undefined;
  } catch {
    return undefined;
  }
}

async function build(base, digest) {
  const started = performance.now();
  const esbuild = await import("esbuild");
  const temp = join(base, `.tmp-${digest}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const target = join(base, digest);
  try {
    await esbuild.build(buildOptions(temp));
    try {
      renameSync(temp, target);
    } catch (error) {
      // Another launch finished the same build first: its bundle is identical; use it.
      if (!["ENOTEMPTY", "EEXIST", "EPERM", "EACCES"].includes(error.code) || !complete(target)) throw error;
      rmSync(temp, { recursive: true, force: true });
    }
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
  debug(`built ${digest} in ${Math.round(performance.now() - started)} ms`);
  prune(base, digest);
  return target;
}

function complete(dir) {
  try {
    return statSync(join(dir, "cli.mjs")).isFile();
  } catch {
    return false;
  }
}

/** Keeps the newest KEEP other bundles; older ones go once nothing can still be running them. */
function prune(base, current) {
  try {
    const now = Date.now();
    const others = readdirSync(base, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== current && /^(\.tmp-)?[0-9a-f]{32}/.test(d.name))
      .map((d) => ({ path: join(base, d.name), tmp: d.name.startsWith(".tmp-"), mtime: statSync(join(base, d.name)).mtimeMs }))
      .filter((d) => now - d.mtime > PRUNE_AFTER_MS)
      .sort((a, b) => b.mtime - a.mtime);
    const finished = others.filter((d) => !d.tmp);
    for (const d of [...finished.slice(KEEP), ...others.filter((o) => o.tmp)]) rmSync(d.path, { recursive: true, force: true });
  } catch {
    // Pruning is housekeeping: never a reason to fail a command.
  }
}

/** The bundle's entry module to import, or a reason (string) to run through tsx instead. */
async function bundle() {
  if (process.env.GITOPS_NO_BUNDLE === "1") return { reason: undefined };
  const version = esbuildVersion();
  if (!version) return { reason: "esbuild is not installed (run pnpm install)" };
  let base;
  try {
    base = cacheDir();
  } catch (error) {
    return { reason: `no usable cache directory (${error.message})` };
  }
  const digest = inputDigest(version);
  const dir = join(base, digest);
  if (complete(dir)) {
    debug(`reused ${digest}`);
    return { entry: join(dir, "cli.mjs") };
  }
  try {
    return { entry: join(await build(base, digest), "cli.mjs") };
  } catch (error) {
    const first = String(error?.errors?.[0]?.text ?? error?.message ?? error).split("\n")[0];
    return { reason: `building the tools bundle failed (${first})` };
  }
}

const found = await bundle();
let cli;
if (found.entry) {
  try {
    cli = await import(pathToFileURL(found.entry).href);
  } catch (error) {
    // A bundle damaged in the cache (a file deleted by hand): the sources still run.
    found.reason = `the tools bundle ${dirname(found.entry)} could not be loaded (${String(error?.message ?? error).split("\n")[0]})`;
  }
}
if (!cli) {
  if (found.reason) process.stderr.write(`note: ${found.reason}; running the tools through tsx (slower)\n`);
  debug("tsx");
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import(pathToFileURL(ENTRY).href);
}
await cli.runCli(process.argv.slice(2));
