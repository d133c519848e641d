// The fixture repositories the tool tests run on (test/fixtures/README.md) are what the current
// tools generate from their specs and check clean, as a user would run them: `pnpm generate
// --root <fixture>` changes nothing and `pnpm check --root <fixture>` finds nothing. A change to
// generation that moves a fixture's files fails here until `pnpm generate --root` is run on it.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { cleanEnv, FIXTURES, TSX_LOADER } from "./support/repo.ts";

const exec = promisify(execFile);
const fixtures = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(FIXTURES, d.name, "overlays", "environments.yaml")))
  .map((d) => d.name);

async function cli(args: string[]) {
  return exec(process.execPath, ["--import", TSX_LOADER, join(TOOLS_ROOT, "tools", "cli.ts"), ...args], { cwd: TOOLS_ROOT, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
  );
}

describe("test fixtures", () => {
  it("include the Ringlet snapshot the tool tests copy", () => {
    expect(fixtures).toContain("ringlet-snapshot");
  });

  it.each(fixtures)("%s: generate --dry-run changes nothing", async (name) => {
    const r = await cli(["generate", "--root", join(FIXTURES, name), "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { changed: unknown[] }).changed).toEqual([]);
  });

  // two-images is a fixture of the release flow (two images, one hook), not a policy-clean
  // application: generate must be up to date there, check is not asked to be silent.
  it.each(fixtures.filter((f) => f !== "two-images"))("%s: check finds nothing", async (name) => {
    const r = await cli(["check", "--root", join(FIXTURES, name)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("no findings");
  });
});
