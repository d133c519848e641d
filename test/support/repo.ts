// A real git repository for tests: a temp copy of a fixture repository (test/fixtures/<name>, never
// this repository's own configuration: a fork edits that, issue 10.7), committed on main, with a
// bare repository as its origin. No mocks: the tools run real git against it.
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll } from "vitest";
import { TOOLS_ROOT } from "../../tools/core/paths.ts";

const exec = promisify(execFile);

/** tsx's loader by absolute URL: the temp repositories have no node_modules to resolve "tsx" from. */
export const TSX_LOADER = pathToFileURL(join(TOOLS_ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

export interface TestRepo {
  root: string;
  origin: string;
  git(...args: string[]): Promise<string>;
  read(path: string): Promise<string>;
  write(path: string, content: string): Promise<void>;
  /** Runs the CLI exactly as `pnpm <command>` does, in this repository. */
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Every tracked and untracked file with its content, for byte-identical comparisons. */
  snapshot(): Promise<Map<string, string>>;
  /** snapshot() plus what a command could also touch: the index, every ref, and the origin's refs. */
  state(): Promise<Record<string, string>>;
  cleanup(): Promise<void>;
}

/** Environment for child processes: nothing of the developer's GitHub or git identity leaks in. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(GITHUB_|GH_|GIT_)/.test(k) || k === "CI") continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: "1", GITOPS_QUIET: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", ...extra };
}

/** The fixture repositories (test/fixtures/README.md). */
export const FIXTURES = join(TOOLS_ROOT, "test", "fixtures");
/** The default fixture: a snapshot of Ringlet's layout, every overlay at FIXTURE_TAG. */
export const FIXTURE_ROOT = join(FIXTURES, "ringlet-snapshot");

/** The tag every overlay of the fixture runs. */
export const FIXTURE_TAG = "v1.0.0";

/** The origin's branches (name -> commit), as `git ls-remote --heads` lists them. */
export async function remoteBranches(repo: TestRepo): Promise<Record<string, string>> {
  const out = await exec("git", ["ls-remote", "--heads", repo.origin], { env: cleanEnv() });
  return Object.fromEntries(
    out.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [sha = "", ref = ""] = l.split("\t");
        return [ref.replace("refs/heads/", ""), sha];
      }),
  );
}

export async function createTestRepo(options: { fixture?: string } = {}): Promise<TestRepo> {
  const dir = await mkdtemp(join(tmpdir(), "ringlet-test-"));
  const root = join(dir, "work");
  const origin = join(dir, "origin.git");
  const run = async (cwd: string, args: string[]) => (await exec("git", args, { cwd, env: cleanEnv() })).stdout;
  await cp(options.fixture ?? FIXTURE_ROOT, root, { recursive: true, verbatimSymlinks: true });
  await mkdir(origin, { recursive: true });
  await run(origin, ["init", "--quiet", "--bare", "-b", "main"]);
  await run(root, ["init", "--quiet", "-b", "main"]);
  await run(root, ["config", "user.name", "Test Runner"]);
  await run(root, ["config", "user.email", "test@example.com"]);
  await run(root, ["config", "commit.gpgsign", "false"]);
  await run(root, ["add", "-A"]);
  await run(root, ["commit", "--quiet", "-m", "initial"]);
  await run(root, ["remote", "add", "origin", origin]);
  await run(root, ["push", "--quiet", "-u", "origin", "main"]);

  const repo: TestRepo = {
    root,
    origin,
    git: (...args) => run(root, args),
    read: (path) => readFile(join(root, path), "utf8"),
    write: async (path, content) => {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content);
    },
    cli: (args, env = {}) =>
      exec(process.execPath, ["--import", TSX_LOADER, join(TOOLS_ROOT, "tools", "cli.ts"), ...args.slice(0, 1), "--root", root, ...args.slice(1)], { cwd: root, env: cleanEnv(env), maxBuffer: 64 * 1024 * 1024 }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
      ),
    snapshot: async () => {
      const files = (await run(root, ["ls-files", "--cached", "--others", "--exclude-standard"])).split("\n").filter(Boolean);
      const map = new Map<string, string>();
      for (const f of files.sort()) map.set(f, await readFile(join(root, f), "utf8").catch(() => "<missing>"));
      map.set("<HEAD>", (await run(root, ["rev-parse", "HEAD"])).trim());
      map.set("<branch>", (await run(root, ["branch", "--show-current"])).trim());
      map.set("<branches>", await run(root, ["branch", "--list"]));
      return map;
    },
    state: async () => {
      const snap = Object.fromEntries(await repo.snapshot());
      snap["<status>"] = await run(root, ["status", "--porcelain=v1", "--untracked-files=all"]);
      snap["<refs>"] = await run(root, ["for-each-ref", "--format=%(refname) %(objectname)"]);
      snap["<origin>"] = await run(root, ["ls-remote", "origin"]);
      return snap;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  return repo;
}

/**
 * For a test file that makes several repositories: returns a factory whose repositories are all
 * removed after the file's tests (registers the afterAll itself).
 */
export function testRepos(options: { fixture?: string } = {}): () => Promise<TestRepo> {
  const repos: TestRepo[] = [];
  afterAll(async () => {
    await Promise.all(repos.splice(0).map((r) => r.cleanup()));
  });
  return async () => {
    const repo = await createTestRepo(options);
    repos.push(repo);
    return repo;
  };
}
