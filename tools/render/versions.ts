// The kustomize compatibility matrix. Argo CD renders with the kustomize it bundles, not ours:
// 2.13/2.14 bundle 5.4.3, 3.0 bundles 5.6.0, 3.1/3.2 5.7.0, 3.3+ 5.8.1 (hack/tool-versions.sh in
// each release). An overlay that builds on our kustomize can crash an older one (kustomize 5.4-5.6
// panic on a multi-document `$patch: delete` patch file) or render other bytes, which Argo CD then
// applies. So every overlay is rendered with every installed kustomize and compared with the
// default render, byte for byte. Not on `pnpm check`'s normal path (it would multiply its renders):
// `pnpm check --kustomize-versions` and test/kustomize-versions.test.ts.
import { join } from "node:path";
import { ToolError } from "../core/errors.ts";
import type { Finding } from "../rules/types.ts";
import { kustomizeBinaries, mapLimit, render, type KustomizeBinary } from "./kustomize.ts";

export const VERSIONS_RULE = "render/kustomize-version";

export interface VersionResult {
  dir: string;
  binary: KustomizeBinary;
  /** The render's output, or the failure's first line. */
  output?: string;
  error?: string;
}

/** 1-based number of the first line where two renders differ. */
function firstDifference(a: string, b: string): number {
  const x = a.split("\n");
  const y = b.split("\n");
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return i + 1;
}

const firstLine = (text: string) => text.split("\n").find((l) => l.trim() !== "" && !/^kustomize build \S+ failed:\s*$/.test(l))?.trim() ?? text.trim();

/**
 * Renders each of `dirs` (repository-relative) with every installed kustomize other than the
 * default one, and returns one finding per overlay and version that fails or differs from
 * `reference` (the default kustomize's render of that overlay; rendered here when missing).
 */
export async function compareKustomizeVersions(root: string, dirs: string[], reference: Map<string, string> = new Map()): Promise<{ findings: Finding[]; binaries: KustomizeBinary[] }> {
  const [main, ...others] = await kustomizeBinaries();
  const expected = new Map(reference);
  await mapLimit(
    dirs.filter((d) => !expected.has(d)),
    async (dir) => {
      try {
        expected.set(dir, await render(join(root, dir), { root, binary: main }));
      } catch (error) {
        if (!(error instanceof ToolError)) throw error;
        // The default render failing is the normal check's finding, not this one's.
      }
    },
  );
  const jobs = others.flatMap((binary) => dirs.filter((d) => expected.has(d)).map((dir) => ({ dir, binary })));
  const results = await mapLimit(jobs, async ({ dir, binary }): Promise<VersionResult> => {
    try {
      return { dir, binary, output: await render(join(root, dir), { root, binary }) };
    } catch (error) {
      if (!(error instanceof ToolError)) throw error;
      return { dir, binary, error: firstLine(error.message.replaceAll(`${root}/`, "")) };
    }
  });
  const findings: Finding[] = [];
  for (const r of results) {
    const file = `${r.dir}/kustomization.yaml`;
    const which = `kustomize ${r.binary.version} (${r.binary.path.replace(/^.*\/(\.tools\/)/, "$1")})`;
    if (r.error !== undefined) {
      findings.push({ rule: VERSIONS_RULE, file, path: "", message: `${r.dir} does not build with ${which}, which an Argo CD release still in use bundles: ${r.error}` });
      continue;
    }
    const want = expected.get(r.dir)!;
    if (r.output !== want) {
      findings.push({
        rule: VERSIONS_RULE,
        file,
        path: "",
        message: `${r.dir} renders differently with ${which} than with the default kustomize ${main!.version} (first difference at output line ${firstDifference(want, r.output!)}): Argo CD would apply other manifests than \`pnpm render\` shows`,
      });
    }
  }
  return { findings, binaries: [main!, ...others] };
}
