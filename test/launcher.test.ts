// bin/gitops.mjs, the launcher behind the pnpm scripts, as real processes: it runs the CLI from an
// esbuild bundle of tools/ kept in a cache outside the checkout, rebuilds it when (and only when)
// a source changes, survives a cold-cache race, and falls back to tsx with the same behaviour.
// Each test works on a temp copy of the tools (tools/, bin/, package.json, lockfile, tsconfig,
// node_modules linked) and points the cache at a temp directory: never the user's ~/.cache.
import { execFile } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolvePromise) => {
    // No inherited cache location or debug switch: each run says what it uses.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("GITOPS_") && k !== "XDG_CACHE_HOME" && k !== "NO_COLOR" && k !== "FORCE_COLOR"));
    execFile(process.execPath, args, { cwd, env: { ...base, ...env }, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolvePromise({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "gitops-launcher-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let copies = 0;
/** A temp copy of the tools; node_modules linked whole, or rebuilt from links without some entries. */
async function copyTools(options: { without?: string[] } = {}): Promise<string> {
  const dir = join(scratch, `copy-${++copies}`);
  await mkdir(dir);
  for (const part of ["tools", "bin"]) await cp(join(TOOLS_ROOT, part), join(dir, part), { recursive: true });
  for (const file of ["package.json", "pnpm-lock.yaml", "tsconfig.json"]) await cp(join(TOOLS_ROOT, file), join(dir, file));
  await symlink(join(TOOLS_ROOT, ".tools"), join(dir, ".tools"));
  if (!options.without) await symlink(join(TOOLS_ROOT, "node_modules"), join(dir, "node_modules"));
  else {
    await mkdir(join(dir, "node_modules"));
    for (const entry of await readdir(join(TOOLS_ROOT, "node_modules"))) {
      if (!options.without.includes(entry)) await symlink(join(TOOLS_ROOT, "node_modules", entry), join(dir, "node_modules", entry));
    }
  }
  return dir;
}

const launcher = (dir: string, args: string[], env: NodeJS.ProcessEnv) => run([join(dir, "bin", "gitops.mjs"), ...args], dir, { GITOPS_LAUNCHER_DEBUG: "1", ...env });
const viaTsx = (dir: string, args: string[]) => run(["--import", "tsx", join(dir, "tools", "cli.ts"), ...args], dir);
/** stderr without the launcher's debug lines (what a user sees). */
const userStderr = (text: string) => text.split("\n").filter((l) => !l.startsWith("gitops launcher: ")).join("\n");
const reported = (text: string) => /^gitops launcher: (built|reused) ([0-9a-f]+)|^gitops launcher: (tsx)$/m.exec(text);

async function bundles(cache: string): Promise<string[]> {
  return (await readdir(cache)).sort();
}

async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true })) out.push(String(entry));
  return out.filter((p) => !p.startsWith("node_modules/")).sort();
}

describe("launcher (bin/gitops.mjs)", () => {
  it("builds the bundle on the first run and behaves as the tsx path: output, usage error exit 2; the second run reuses it", async () => {
    const dir = await copyTools();
    const cache = join(scratch, "cache-first");
    const before = await listing(dir);
    const tsxHelp = await viaTsx(dir, ["check", "--help"]);
    const first = await launcher(dir, ["check", "--help"], { GITOPS_CACHE_DIR: cache });
    expect(reported(first.stderr)?.[1], first.stderr).toBe("built");
    expect(first.code).toBe(0);
    expect(tsxHelp.code).toBe(0);
    expect(first.stdout).toBe(tsxHelp.stdout);
    expect(first.stdout).toContain("Usage: pnpm check");
    expect(userStderr(first.stderr)).toBe(tsxHelp.stderr);

    const tsxUsage = await viaTsx(dir, ["check", "--no-such-flag"]);
    const usage = await launcher(dir, ["check", "--no-such-flag"], { GITOPS_CACHE_DIR: cache });
    expect(tsxUsage.code).toBe(2);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe(tsxUsage.stdout);
    expect(userStderr(usage.stderr)).toBe(tsxUsage.stderr);
    expect(usage.stderr).toContain("--no-such-flag");

    // Reused, not rebuilt: reported so, one bundle, its entry file the same file (inode, mtime).
    const digest = reported(first.stderr)![2]!;
    expect(reported(usage.stderr)?.slice(1, 3)).toEqual(["reused", digest]);
    const entry = join(cache, digest, "cli.mjs");
    const was = await stat(entry);
    const again = await launcher(dir, ["--help"], { GITOPS_CACHE_DIR: cache });
    expect(again.code).toBe(0);
    expect(reported(again.stderr)?.slice(1, 3)).toEqual(["reused", digest]);
    const now = await stat(entry);
    expect([now.ino, now.mtimeMs]).toEqual([was.ino, was.mtimeMs]);
    expect(await bundles(cache)).toEqual([digest]);
    // Nothing was written into the checkout: the bundle lives only in the cache.
    expect(await listing(dir)).toEqual(before);
  }, 120_000);

  it("rebuilds when a tools source changes, runs the change, and finds the old bundle again when it is undone", async () => {
    const dir = await copyTools();
    const cache = join(scratch, "cache-change");
    const first = await launcher(dir, ["--help"], { GITOPS_CACHE_DIR: cache });
    expect(first.code).toBe(0);
    const digest = reported(first.stderr)![2]!;
    const file = join(dir, "tools", "commands", "index.ts");
    const original = await readFile(file, "utf8");
    const summary = /name: "check", summary: "([^"]+)"/.exec(original)![1]!;
    await writeFile(file, original.replace(summary, "Changed in a temp copy of the tools."));
    const changed = await launcher(dir, ["--help"], { GITOPS_CACHE_DIR: cache });
    expect(changed.code).toBe(0);
    expect(reported(changed.stderr)?.[1], changed.stderr).toBe("built");
    expect(reported(changed.stderr)?.[2]).not.toBe(digest);
    expect(changed.stdout).toContain("Changed in a temp copy of the tools.");
    expect(changed.stdout).not.toContain(summary);

    // Contents name the bundle, not times: the undone change (a new mtime) finds the first one.
    await writeFile(file, original);
    const undone = await launcher(dir, ["--help"], { GITOPS_CACHE_DIR: cache });
    expect(reported(undone.stderr)?.slice(1, 3)).toEqual(["reused", digest]);
    expect(undone.stdout).toBe(first.stdout);
    expect(await bundles(cache)).toHaveLength(2);
  }, 120_000);

  it("checks a broken repository as the tsx path does: same findings (schema validators found from the bundle), exit 1", async () => {
    const dir = await copyTools();
    const cache = join(scratch, "cache-check");
    const repo = join(scratch, "broken-repo");
    await cp(join(TOOLS_ROOT, "test", "fixtures", "ringlet-snapshot"), repo, { recursive: true });
    // An unknown field only the strict schema pass (kubernetes-models' compiled validators) reports.
    const base = join(repo, "base", "app");
    const file = (await readdir(base)).find((f) => f.endsWith("-deployment.yaml"))!;
    const text = await readFile(join(base, file), "utf8");
    await writeFile(join(base, file), text.replace(/^spec:\n/m, "spec:\n  replicaz: 3\n"));
    const args = ["check", "--no-cache", "--root", repo];
    const env = { NO_COLOR: "1", GITOPS_QUIET: "1" };
    const tsx = await run(["--import", "tsx", join(dir, "tools", "cli.ts"), ...args], dir, env);
    const bundled = await launcher(dir, args, { ...env, GITOPS_CACHE_DIR: cache });
    expect(reported(bundled.stderr)?.[1]).toBe("built");
    const timing = (t: string) => t.replace(/in \d+ ms/g, "in N ms");
    expect(tsx.code).toBe(1);
    expect(bundled.code).toBe(1);
    expect(tsx.stdout).toMatch(/schema\/unknown-field: .*spec\.replicaz/);
    expect(timing(bundled.stdout)).toBe(timing(tsx.stdout));
    expect(userStderr(bundled.stderr)).toBe(tsx.stderr);
  }, 180_000);

  it("two launches racing on a cold cache both succeed, and leave one complete bundle", async () => {
    const dir = await copyTools();
    const cache = join(scratch, "cache-race");
    const [a, b] = await Promise.all([launcher(dir, ["check", "--help"], { GITOPS_CACHE_DIR: cache }), launcher(dir, ["check", "--help"], { GITOPS_CACHE_DIR: cache })]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    expect(a.stdout).toContain("Usage: pnpm check");
    expect(b.stdout).toBe(a.stdout);
    expect(userStderr(a.stderr) + userStderr(b.stderr)).toBe("");
    const digest = reported(a.stderr)![2]!;
    expect(reported(b.stderr)![2]).toBe(digest);
    expect(await bundles(cache)).toEqual([digest]);
  }, 120_000);

  it("without esbuild, runs the same CLI through tsx, with one note; GITOPS_NO_BUNDLE=1 asks for tsx without one", async () => {
    const dir = await copyTools({ without: ["esbuild"] });
    const cache = join(scratch, "cache-no-esbuild");
    const tsxHelp = await viaTsx(dir, ["check", "--help"]);
    const r = await launcher(dir, ["check", "--help"], { GITOPS_CACHE_DIR: cache });
    expect(r.code).toBe(0);
    expect(reported(r.stderr)?.[3]).toBe("tsx");
    expect(r.stdout).toBe(tsxHelp.stdout);
    expect(userStderr(r.stderr).trim().split("\n")).toEqual(["note: esbuild is not installed (run pnpm install); running the tools through tsx (slower)"]);
    const usage = await launcher(dir, ["check", "--no-such-flag"], { GITOPS_CACHE_DIR: cache });
    expect(usage.code).toBe(2);

    const full = await copyTools();
    const asked = await run([join(full, "bin", "gitops.mjs"), "check", "--help"], full, { GITOPS_CACHE_DIR: cache, GITOPS_NO_BUNDLE: "1" });
    expect(asked.code).toBe(0);
    expect(asked.stdout).toBe(tsxHelp.stdout);
    expect(asked.stderr).toBe("");
    expect(await readdir(cache).catch(() => [])).toEqual([]);
  }, 120_000);

  it("keeps the bundle under XDG_CACHE_HOME, and refuses a cache directory others can write (tsx instead)", async () => {
    const dir = await copyTools();
    const xdg = join(scratch, "xdg");
    const r = await launcher(dir, ["--help"], { XDG_CACHE_HOME: xdg });
    expect(r.code).toBe(0);
    const digest = reported(r.stderr)![2]!;
    expect((await stat(join(xdg, "gitops-kit", digest, "cli.mjs"))).isFile()).toBe(true);
    expect(relative(dir, xdg).startsWith("..")).toBe(true);

    // A directory another user could have planted a bundle in is not one to execute from.
    const shared = join(scratch, "shared");
    await mkdir(shared);
    await chmod(shared, 0o777);
    const refused = await launcher(dir, ["--help"], { GITOPS_CACHE_DIR: shared });
    expect(refused.code).toBe(0);
    expect(reported(refused.stderr)?.[3]).toBe("tsx");
    expect(userStderr(refused.stderr)).toContain("writable by others");
    expect(refused.stdout).toBe(r.stdout);
    expect(await readdir(shared)).toEqual([]);
  }, 120_000);
});
