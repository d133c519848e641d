// Rendered-manifest diffs: what will change in the cluster, resource by resource. Used by
// `pnpm diff`, by bump-image's --dry-run and by the pull-request body, so all three agree.
import { existsSync, readdirSync } from "node:fs";
import { cp, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { makeTempDir, pausePoint } from "../core/cleanup.ts";
import { RenderRefusedError } from "../core/errors.ts";
import { parseYamlStream } from "../core/yaml.ts";
import { exportTree } from "../git/git.ts";
import type { RenderCache } from "../render/cache.ts";
import { mapLimit, render } from "../render/kustomize.ts";
import { stats, unifiedDiff } from "./unified.ts";

/**
 * An overlay of an environment, by directory: "app" is overlays/<env> (the primary layer, whatever
 * its name in the spec), any other key the subdirectory overlays/<env>/<key> (another layer).
 * Found on disk, so that a revision whose spec had other layers renders what it had.
 */
export type Layer = string;
export const PRIMARY_OVERLAY = "app";

export interface RenderedResource {
  /** Kind/name (namespace-qualified objects in one overlay share a namespace). */
  key: string;
  text: string;
}

/** What an environment renders to, per layer; undefined when the overlay does not exist there. */
export type Snapshot = Map<string, Record<Layer, RenderedResource[] | { error: string }>>;

export interface ResourceChange {
  env: string;
  layer: Layer;
  key: string;
  status: "added" | "removed" | "changed";
  diff: string;
  added: number;
  removed: number;
}

/** The folders a render needs; copied or exported for renders of another state of the tree. */
export const RENDER_INPUTS = ["base", "components", "overlays"];

export function splitRendered(output: string, label: string): RenderedResource[] {
  return output
    .split(/^---\n/m)
    .filter((chunk) => chunk.trim() !== "")
    .map((text) => {
      const [object] = parseYamlStream(text, label);
      return { key: `${object?.kind ?? "?"}/${object?.metadata?.name ?? "?"}`, text };
    });
}

const overlay = (env: string, layer: Layer) => (layer === PRIMARY_OVERLAY ? join("overlays", env) : join("overlays", env, layer));

/** The overlays of an environment on disk: overlays/<env> and its subdirectories with a kustomization. */
function layersOnDisk(root: string, env: string): Layer[] {
  let subdirs: string[] = [];
  try {
    subdirs = readdirSync(join(root, "overlays", env), { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== PRIMARY_OVERLAY && existsSync(join(root, "overlays", env, e.name, "kustomization.yaml")))
      .map((e) => e.name)
      .sort();
  } catch {
    // no such environment on this side
  }
  return [PRIMARY_OVERLAY, ...subdirs];
}

/** Renders every layer of each environment of the tree at `root` (or only `layers`). */
export async function renderSnapshot(root: string, envs: string[], layers?: Layer[], cache?: RenderCache): Promise<Snapshot> {
  const jobs = envs.flatMap((env) => (layers ?? layersOnDisk(root, env)).map((layer) => ({ env, layer })));
  const snapshot: Snapshot = new Map(envs.map((e) => [e, {}]));
  await mapLimit(jobs, async ({ env, layer }) => {
    const dir = join(root, overlay(env, layer));
    if (!existsSync(join(dir, "kustomization.yaml"))) return;
    try {
      snapshot.get(env)![layer] = splitRendered(await render(dir, { root, cache }), `kustomize build ${overlay(env, layer)}`);
    } catch (error) {
      // Remote or outside-the-repository input is refused as a whole, not shown as one overlay's error.
      if (error instanceof RenderRefusedError) throw error;
      snapshot.get(env)![layer] = { error: (error as Error).message.replaceAll(`${root}/`, "") };
    }
  });
  return snapshot;
}

/** Renders the tree as it is at a git revision (exported to a temp folder; the checkout is untouched). */
export async function renderSnapshotAt(root: string, rev: string, envs: string[], cache?: RenderCache): Promise<Snapshot> {
  // Removed on exit or interruption too; copies left by a killed run are swept by the next one.
  const temp = await makeTempDir("rev");
  try {
    await exportTree(root, rev, RENDER_INPUTS, temp.path);
    // The export's renders share the checkout's cache: keys are relative to the tree's root, so
    // an overlay unchanged between the base and the working tree is rendered at most once.
    return await renderSnapshot(temp.path, envs, undefined, cache);
  } finally {
    await temp.remove();
  }
}

/** Renders the tree with some files replaced, in a temp copy: the real tree is never written. */
export async function renderSnapshotWith(root: string, replacements: Map<string, string>, envs: string[], layers?: Layer[]): Promise<Snapshot> {
  const temp = await makeTempDir("plan");
  const dir = temp.path;
  try {
    // verbatimSymlinks: a relative link stays relative, so it points inside the copy as it did in the
    // checkout (fs.cp would rewrite it to an absolute path into the checkout; issue 11, item 9). A
    // link that leaves the copy is refused by the render's source check.
    for (const folder of RENDER_INPUTS) if (existsSync(join(root, folder))) await cp(join(root, folder), join(dir, folder), { recursive: true, verbatimSymlinks: true });
    for (const [path, content] of replacements) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    await pausePoint("rendering");
    return await renderSnapshot(dir, envs, layers);
  } finally {
    await temp.remove();
  }
}

function asList(value: RenderedResource[] | { error: string } | undefined): RenderedResource[] {
  return Array.isArray(value) ? value : [];
}

export function diffSnapshots(before: Snapshot, after: Snapshot, envs: string[]): ResourceChange[] {
  const changes: ResourceChange[] = [];
  for (const env of envs) {
    const layers = [...new Set([...Object.keys(before.get(env) ?? {}), ...Object.keys(after.get(env) ?? {})])].sort((x, y) => (x === PRIMARY_OVERLAY ? -1 : y === PRIMARY_OVERLAY ? 1 : x.localeCompare(y)));
    for (const layer of layers) {
      const a = new Map(asList(before.get(env)?.[layer]).map((r) => [r.key, r.text]));
      const b = new Map(asList(after.get(env)?.[layer]).map((r) => [r.key, r.text]));
      const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
      for (const key of keys) {
        const old = a.get(key);
        const now = b.get(key);
        if (old === now) continue;
        const diff = unifiedDiff(old ?? "", now ?? "", old === undefined ? "/dev/null" : `a/${env}/${key}`, now === undefined ? "/dev/null" : `b/${env}/${key}`);
        const { added, removed } = stats(
          diff
            .split("\n")
            .slice(2)
            .filter((l) => l.startsWith("+") || l.startsWith("-"))
            .map((l) => ({ op: l[0] as "+" | "-", line: l })),
        );
        changes.push({ env, layer, key, status: old === undefined ? "added" : now === undefined ? "removed" : "changed", diff, added, removed });
      }
    }
  }
  return changes;
}

/** Render failures on either side, so a diff never silently shows "no change" for a broken overlay. */
export function snapshotErrors(snapshot: Snapshot): string[] {
  const out: string[] = [];
  for (const [env, layers] of snapshot) for (const [layer, value] of Object.entries(layers)) if (value && !Array.isArray(value)) out.push(`${env} (${layer}): ${value.error}`);
  return out;
}

/** How an environment's images change (one entry per environment whose set of images differs). */
export interface ImageChange {
  env: string;
  /** Images the environment runs before and after; empty when it does not exist on that side. */
  before: string[];
  after: string[];
  status: "added" | "removed" | "changed";
}

function collectImages(value: unknown, out: Set<string>): void {
  if (Array.isArray(value)) {
    for (const v of value) collectImages(v, out);
    return;
  }
  if (!value || typeof value !== "object") return;
  for (const [key, child] of Object.entries(value)) {
    if ((key === "containers" || key === "initContainers" || key === "ephemeralContainers") && Array.isArray(child)) {
      for (const c of child) if (c && typeof (c as { image?: unknown }).image === "string") out.add((c as { image: string }).image);
    }
    collectImages(child, out);
  }
}

function imagesOf(snapshot: Snapshot, env: string): string[] | undefined {
  const layers = snapshot.get(env);
  if (!layers || Object.keys(layers).length === 0) return undefined;
  const out = new Set<string>();
  for (const value of Object.values(layers)) for (const r of asList(value)) for (const o of parseYamlStream(r.text, r.key)) collectImages(o, out);
  return [...out].sort();
}

/**
 * The images each environment runs, before and after: a new environment's tags (or a removed
 * one's) are otherwise hidden in pages of "added" resources.
 */
export function imageChanges(before: Snapshot, after: Snapshot, envs: string[]): ImageChange[] {
  const out: ImageChange[] = [];
  for (const env of envs) {
    const a = imagesOf(before, env);
    const b = imagesOf(after, env);
    if (a === undefined && b === undefined) continue;
    if (a && b && a.join("\n") === b.join("\n")) continue;
    out.push({ env, before: a ?? [], after: b ?? [], status: a === undefined ? "added" : b === undefined ? "removed" : "changed" });
  }
  return out;
}
