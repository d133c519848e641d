// validate.yml's split (issue 10, item 7): the tool tests only when what they test can have
// changed, `check` and the rendered diff always. The "Changed paths" step is run with its own
// script text against real git history.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { cleanEnv } from "./support/repo.ts";

const exec = promisify(execFile);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

async function workflow(): Promise<Any> {
  return parse(await readFile(join(TOOLS_ROOT, ".github", "workflows", "validate.yml"), "utf8"));
}

/** Runs the step in a repository whose HEAD changes `paths` against its parent; returns `tools`. */
async function toolsOutput(paths: string[], event: string): Promise<string> {
  const wf = await workflow();
  const step = (wf.jobs.changes.steps as Any[]).find((s) => s.name === "Changed paths");
  const dir = await mkdtemp(join(tmpdir(), "gitops-validate-"));
  try {
    const git = (...args: string[]) => exec("git", args, { cwd: dir, env: cleanEnv({ GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" }) });
    await git("init", "-q", "-b", "main");
    await writeFile(join(dir, "README.md"), "x\n");
    await git("add", "-A");
    await git("commit", "-q", "-m", "base");
    for (const p of paths) {
      await mkdir(dirname(join(dir, p)), { recursive: true });
      await writeFile(join(dir, p), "changed\n");
    }
    await git("add", "-A");
    await git("commit", "-q", "-m", "change");
    const output = join(dir, "github-output");
    await writeFile(output, "");
    await exec("bash", ["-e", "-c", step.run], { cwd: dir, env: cleanEnv({ ...step.env, EVENT: event, GITHUB_OUTPUT: output }) });
    return /^tools=(\w+)$/m.exec(await readFile(output, "utf8"))?.[1] ?? "";
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("validate.yml", () => {
  it("runs the tool tests only when tools, tests, package files or workflows change; always on push", async () => {
    expect(await toolsOutput(["overlays/dev/kustomization.yaml"], "pull_request")).toBe("false");
    expect(await toolsOutput(["base/app/web-deployment.yaml", "README.md"], "pull_request")).toBe("false");
    for (const p of ["tools/check/run.ts", "test/x.test.ts", "package.json", "pnpm-lock.yaml", ".github/workflows/validate.yml", "scripts/install-kustomize.mjs"]) {
      expect(await toolsOutput([p], "pull_request"), p).toBe("true");
    }
    expect(await toolsOutput(["overlays/dev/kustomization.yaml"], "push")).toBe("true");
  });

  it("gates the test job on that output, and always runs check (sharded) and the rendered diff", async () => {
    const wf = await workflow();
    expect(wf.jobs.test.needs).toBe("changes");
    expect(wf.jobs.test.if).toBe("needs.changes.outputs.tools == 'true'");
    expect(wf.jobs.check.if).toBeUndefined();
    expect(wf.jobs["rendered-diff"].if).toBe("github.event_name == 'pull_request'");
    const shards = wf.jobs.check.strategy.matrix.shard as number[];
    const [count] = wf.jobs.check.strategy.matrix.count as number[];
    expect(shards).toEqual(Array.from({ length: count! }, (_, i) => i + 1));
    const run = (wf.jobs.check.steps as Any[]).find((s) => /pnpm check/.test(s.run ?? ""));
    expect(run.run).toBe('pnpm check --shard "${SHARD}/${COUNT}"');
    // The render cache is restored (and saved) by actions/cache, keyed by the kustomize version and the inputs.
    const cache = (wf.jobs.check.steps as Any[]).find((s) => String(s.uses ?? "").startsWith("actions/cache@") && s.with.path === ".cache/renders");
    expect(cache.with.key).toMatch(/kustomize-\$\{\{ steps\.kustomize\.outputs\.version \}\}.*hashFiles\('base\/\*\*', 'components\/\*\*', 'overlays\/\*\*'\)/);
  });
});
