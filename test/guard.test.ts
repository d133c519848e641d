// Tool tests never read this repository's own configuration (issue 10.7): a fork edits its spec,
// base, environments and CRDs, and `pnpm test` must stay green. They run on test/fixtures/ (copied
// by test/support/repo.ts). Only the repository tests below read the root, and they must stay
// generic: no environment name and no object name of the application written into them.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";

/** The tests about the repository's own manifests (test/fixtures/README.md). */
const REPOSITORY_TESTS = ["test/repository.test.ts", "test/real-programs.test.ts", "test/real-celery.test.ts", "test/support/containers.ts"];
// The worked examples are fixtures of their own (issue 10.9: bump-image and promote operate on them in tests).
const EXAMPLE_TESTS = ["test/examples.test.ts"];
const CONFIG = "(?:overlays|base|argocd|components|crds|examples)";

/** Where a test source reads the root's configuration, as `line: text` entries. */
export function rootConfigReads(text: string): string[] {
  const patterns = [
    // join(TOOLS_ROOT, "overlays", …), join(TOOLS_ROOT, "base/app")
    new RegExp(`\\bTOOLS_ROOT\\s*,\\s*["'\`]${CONFIG}\\b`),
    // a tool pointed at the root: gatherInputs(TOOLS_ROOT, …), readCrdFiles(TOOLS_ROOT), …
    /\b(?:gatherInputs|runCheck|readCrdFiles|repoPaths|compareKustomizeVersions|renderEnvironments|planGeneration|loadSpec|readSpec)\(\s*TOOLS_ROOT\b/,
    // kustomize or git ls-files run in the root on its configuration
    new RegExp(`(?:kustomize|ls-files)[^\\n]*["'\`]${CONFIG}\\b[^\\n]*cwd:\\s*TOOLS_ROOT\\b`),
    new RegExp(`\\b(?:INPUTS|inputs)\\s*=\\s*\\[\\s*["'\`]${CONFIG}["'\`]`),
  ];
  return text.split("\n").flatMap((line, i) => (patterns.some((p) => p.test(line)) ? [`${i + 1}: ${line.trim()}`] : []));
}

/** Names a repository test must not hard-code: the environments and objects of one application. */
export function hardCodedNames(text: string, names: string[]): string[] {
  return text.split("\n").flatMap((line, i) => (names.some((n) => new RegExp(`["'\`]${n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}["'\`/]`).test(line)) ? [`${i + 1}: ${line.trim()}`] : []));
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return d.name === "fixtures" ? [] : sources(path);
    return /\.(ts|mts|mjs|js)$/.test(d.name) ? [relative(TOOLS_ROOT, path)] : [];
  });
}

describe("tool tests run on fixtures", () => {
  it("catches the reads it forbids (the shapes the tests had before the fixtures)", () => {
    expect(rootConfigReads('  const inputs = await gatherInputs(TOOLS_ROOT, repoPaths(TOOLS_ROOT).spec);')).toHaveLength(1);
    expect(rootConfigReads('  files = await readCrdFiles(TOOLS_ROOT);')).toHaveLength(1);
    expect(rootConfigReads('    const text = await readFile(join(TOOLS_ROOT, "argocd", `${env}.yaml`), "utf8");')).toHaveLength(1);
    expect(rootConfigReads('const INPUTS = ["base", "components", "overlays", "argocd", "crds"];')).toHaveLength(1);
    expect(rootConfigReads('  const KUBECTL = join(TOOLS_ROOT, ".tools", "kubectl");\n  const README = join(TOOLS_ROOT, "README.md");')).toEqual([]);
    expect(hardCodedNames('find(data, "ConfigMap", "ringlet-connection")\nawait overlay("dev")', ["ringlet", "ringlet-connection", "dev"])).toHaveLength(2);
  });

  it("no test outside the repository tests reads the root's overlays/, base/, argocd/, components/, crds/ or examples/", () => {
    const offenders = sources(join(TOOLS_ROOT, "test"))
      .filter((file) => !REPOSITORY_TESTS.includes(file) && !EXAMPLE_TESTS.includes(file) && file !== "test/guard.test.ts")
      .flatMap((file) => rootConfigReads(readFileSync(join(TOOLS_ROOT, file), "utf8")).map((hit) => `${file}:${hit}`));
    expect(offenders).toEqual([]);
  });

  it("test/support/repo.ts copies a fixture, not the root", () => {
    const text = readFileSync(join(TOOLS_ROOT, "test", "support", "repo.ts"), "utf8");
    expect(text).toMatch(/join\(TOOLS_ROOT, "test", "fixtures"\)/);
    expect(text).not.toMatch(/cwd: TOOLS_ROOT/);
  });

  it("the repository tests name no environment and no object of the application", () => {
    // The names a fork would change, read from the root itself: its environments and every
    // object name its base declares.
    const spec = readFileSync(join(TOOLS_ROOT, "overlays", "environments.yaml"), "utf8");
    const envBlock = spec.slice(spec.search(/^environments:/m));
    const envs = [...envBlock.matchAll(/^ {2}([A-Za-z0-9][\w-]*):/gm)].map((m) => m[1]!);
    expect(envs.length).toBeGreaterThan(0);
    const baseNames = readdirSync(join(TOOLS_ROOT, "base"), { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile() && /\.ya?ml$/.test(d.name))
      .flatMap((d) => [...readFileSync(join(d.parentPath, d.name), "utf8").matchAll(/^ {2}name: ([\w.-]+)$/gm)].map((m) => m[1]!));
    const names = [...new Set([...envs, ...baseNames])];
    expect(baseNames.length).toBeGreaterThan(0);
    const hits = REPOSITORY_TESTS.flatMap((file) => hardCodedNames(readFileSync(join(TOOLS_ROOT, file), "utf8"), names).map((hit) => `${file}:${hit}`));
    expect(hits).toEqual([]);
  });
});
