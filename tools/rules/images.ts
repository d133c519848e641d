// Image overrides: kustomize's images transformer changes the containers whose image is exactly
// an entry's `name` (with any tag or digest) and silently ignores an entry that matches none
// (kustomize api/filters/imagetag: isImageMatched). A renamed registry in the base then leaves
// the overlay's tag unused: the environment keeps running the base's image while bump-image and
// promote keep moving a tag that deploys nothing.
import type { Finding, Rule } from "./types.ts";
import { containersOf, parseImage, podTemplates } from "./workloads.ts";

interface ImageEntry {
  name?: unknown;
  newName?: unknown;
  newTag?: unknown;
  digest?: unknown;
}

export const unappliedImageRule: Rule = (ctx) => {
  const out: Finding[] = [];
  for (const k of ctx.kustomizations) {
    const env = ctx.environments.find((e) => e.env === k.env);
    if (!env || !Array.isArray(k.value.images)) continue;
    const objects = k.layer === "data" ? env.data : env.app;
    const images = podTemplates(objects).flatMap((t) => containersOf(t).map(({ container }) => (container.image ? parseImage(container.image) : undefined)));
    (k.value.images as ImageEntry[]).forEach((entry, i) => {
      if (typeof entry?.name !== "string") return;
      const repository = typeof entry.newName === "string" ? entry.newName : entry.name;
      const tag = entry.newTag === undefined || entry.newTag === null ? undefined : String(entry.newTag);
      const digest = typeof entry.digest === "string" ? entry.digest : undefined;
      const applied = images.some((im) => im && im.repository === repository && (tag === undefined || im.tag === tag) && (digest === undefined || im.digest === digest));
      if (applied) return;
      const same = images.filter((im) => im?.repository === repository).length;
      out.push({
        rule: "images/unapplied",
        file: k.file,
        path: `images[${i}]`,
        env: k.env,
        message: same
          ? `${entry.name} is rendered, but not at ${[tag && `tag ${tag}`, digest && `digest ${digest}`].filter(Boolean).join(" and ")}: the entry changes no container`
          : `no container of ${k.layer === "data" ? `overlays/${k.env}/data` : `overlays/${k.env}`} runs ${entry.name}: kustomize ignores the entry, and the environment runs the base's image (did the base's image name change?)`,
      });
    });
  }
  return out;
};

export const imageRules: Record<string, Rule> = {
  unapplied: unappliedImageRule,
};
