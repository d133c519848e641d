// Image overrides: kustomize's images transformer changes the containers whose image is exactly
// an entry's `name` (with any tag or digest) and silently ignores an entry that matches none
// (kustomize api/filters/imagetag: isImageMatched). A renamed registry in the base then leaves
// the overlay's tag unused: the environment keeps running the base's image while bump-image and
// promote keep moving a tag that deploys nothing.
import { layerObjects, type Finding, type RenderedEnvironment, type Rule } from "./types.ts";
import { parseImage } from "./workloads.ts";

interface ImageEntry {
  name?: unknown;
  newName?: unknown;
  newTag?: unknown;
  digest?: unknown;
}

/**
 * The images of every `containers` and `initContainers` list at any depth of an object: kustomize's
 * images transformer changes those wherever they are (a CronJob's, a ScaledJob's, a custom
 * resource's), not only in the pod templates of the kinds it knows.
 */
export function containerImages(value: unknown, out: string[] = []): string[] {
  // Scalars hold no containers: skipped before the call (this runs over every rendered object).
  if (Array.isArray(value)) {
    for (const v of value) if (v && typeof v === "object") containerImages(v, out);
  } else if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const v = record[key];
      if ((key === "containers" || key === "initContainers") && Array.isArray(v)) {
        for (const c of v) if (c && typeof (c as { image?: unknown }).image === "string") out.push((c as { image: string }).image);
      }
      if (v && typeof v === "object") containerImages(v, out);
    }
  }
  return out;
}

export const unappliedImageRule: Rule = (ctx) => {
  const out: Finding[] = [];
  const byName = new Map<string, RenderedEnvironment>();
  for (const e of ctx.environments) if (!byName.has(e.env)) byName.set(e.env, e);
  for (const k of ctx.kustomizations) {
    const env = byName.get(k.env);
    if (!env || !Array.isArray(k.value.images)) continue;
    const objects = layerObjects(env, k.layer);
    const images = objects.flatMap((o) => containerImages(o.object)).map(parseImage);
    (k.value.images as ImageEntry[]).forEach((entry, i) => {
      if (typeof entry?.name !== "string") return;
      const repository = typeof entry.newName === "string" ? entry.newName : entry.name;
      const tag = entry.newTag === undefined || entry.newTag === null ? undefined : String(entry.newTag);
      const digest = typeof entry.digest === "string" ? entry.digest : undefined;
      const applied = images.some((im) => im.repository === repository && (tag === undefined || im.tag === tag) && (digest === undefined || im.digest === digest));
      if (applied) return;
      const same = images.filter((im) => im.repository === repository).length;
      out.push({
        rule: "images/unapplied",
        file: k.file,
        path: `images[${i}]`,
        env: k.env,
        message: same
          ? `${entry.name} is rendered, but not at ${[tag && `tag ${tag}`, digest && `digest ${digest}`].filter(Boolean).join(" and ")}: the entry changes no container`
          : `no container of ${k.file.replace(/\/kustomization\.ya?ml$/, "")} runs ${entry.name}: kustomize ignores the entry, and the environment runs the base's image (did the base's image name change?)`,
      });
    });
  }
  return out;
};

export const imageRules: Record<string, Rule> = {
  unapplied: unappliedImageRule,
};
