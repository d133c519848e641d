// `pnpm check` as a function: gather inputs, run every rule, attribute each finding to the
// source file and line to fix.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { mapLimit, renderWithOrigins } from "../render/kustomize.ts";
import type { Finding } from "../rules/types.ts";
import { gatherInputs } from "./inputs.ts";

export interface CheckResult {
  findings: Finding[];
  objects: number;
  overlays: number;
  /** With kustomizeVersions: the kustomize versions every overlay was rendered with, default first. */
  versions?: string[];
}

export interface CheckOptions {
  /** Also render every overlay and argocd/ with every installed kustomize (tools/render/versions.ts). */
  kustomizeVersions?: boolean;
}

const OVERLAY_DIR = /^overlays\/[^/]+(\/data)?$/;

/**
 * Rules first see the overlay directory as an object's source; only when a finding names such an
 * object is the overlay rendered again with kustomize's origin annotations (a clean run pays nothing).
 */
async function attachOrigins(root: string, findings: Finding[]): Promise<void> {
  const dirs = [...new Set(findings.filter((f) => OVERLAY_DIR.test(f.file) && f.object).map((f) => f.file))];
  const origins = new Map<string, Map<string, string>>();
  await mapLimit(dirs, async (dir) => {
    try {
      origins.set(dir, await renderWithOrigins(join(root, dir), { root }));
    } catch {
      origins.set(dir, new Map());
    }
  });
  for (const f of findings) {
    const origin = OVERLAY_DIR.test(f.file) && f.object ? origins.get(f.file)?.get(f.object) : undefined;
    if (origin) f.file = relative(root, origin);
  }
}

async function attachLines(root: string, findings: Finding[]): Promise<void> {
  if (findings.length === 0) return;
  const { locateLine } = await import("./locate.ts"); // only when there is something to locate
  const texts = new Map<string, string | undefined>();
  for (const f of findings) {
    // A finding about a whole file (drift, a failed render) has no field to point at.
    if (f.line !== undefined || !f.path || !/\.ya?ml$/.test(f.file)) continue;
    if (!texts.has(f.file)) texts.set(f.file, await readFile(join(root, f.file), "utf8").catch(() => undefined));
    const text = texts.get(f.file);
    if (!text) continue;
    const [kind, name] = f.object ? f.object.split("/", 2) : [undefined, undefined];
    f.line = locateLine(text, kind, name, f.path);
  }
}

export async function runCheck(root: string, specFile: string, options: CheckOptions = {}): Promise<CheckResult> {
  // The rules (and the schema code under them) load while kustomize renders.
  const rules = import("../rules/index.ts");
  rules.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
  const inputs = await gatherInputs(root, specFile);
  const { runRules } = await rules;
  const findings = [...inputs.findings, ...(inputs.context ? runRules(inputs.context) : [])];
  let versions: string[] | undefined;
  if (options.kustomizeVersions) {
    const { compareKustomizeVersions } = await import("../render/versions.ts");
    const reference = new Map(inputs.renders.map((r) => [r.dir, r.output]));
    const dirs = [...inputs.renders.map((r) => r.dir), ...(existsSync(join(root, "argocd", "kustomization.yaml")) ? ["argocd"] : [])];
    const matrix = await compareKustomizeVersions(root, dirs, reference);
    findings.push(...matrix.findings);
    versions = matrix.binaries.map((b) => b.version);
  }
  await attachOrigins(root, findings);
  await attachLines(root, findings);
  const order = inputs.context ? Object.keys(inputs.context.spec.environments) : [];
  const stage = (env: string | undefined) => (env === undefined ? -1 : order.indexOf(env));
  findings.sort(
    (a, b) =>
      a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || a.path.localeCompare(b.path) || a.rule.localeCompare(b.rule) || stage(a.env) - stage(b.env),
  );
  const objects = inputs.context ? inputs.context.environments.reduce((n, e) => n + e.app.length + e.data.length, 0) + inputs.context.argocd.length : 0;
  return { findings, objects, overlays: inputs.renders.length, ...(versions ? { versions } : {}) };
}
