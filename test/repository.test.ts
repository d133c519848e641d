// This repository's own configuration, held generically (test/fixtures/README.md): whatever a fork
// puts in its spec, base and environments, the repository must check clean (no drift from
// `pnpm generate`, every rule quiet) and render byte-identically on every supported kustomize.
// No name or value of the application is assumed here; the tool tests run on test/fixtures/.
import { describe, expect, it } from "vitest";
import { runCheck } from "../tools/check/run.ts";
import { TOOLS_ROOT, repoPaths } from "../tools/core/paths.ts";

describe("this repository", () => {
  it("checks clean: generated files up to date, every rule quiet, the same render on every supported kustomize", async () => {
    const result = await runCheck(TOOLS_ROOT, repoPaths(TOOLS_ROOT).spec, { kustomizeVersions: true });
    expect(result.overlays).toBeGreaterThan(0);
    expect(result.findings.map((f) => `${f.file}:${f.line ?? ""} ${f.rule} ${f.message}`)).toEqual([]);
  }, 300_000);
});
