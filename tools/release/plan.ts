// Planning a tag move (bump-image and promote): validate everything, compute the exact new text
// of the overlay's kustomization. Pure apart from reading the file; nothing is written here.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { unknownName, ValidationError, type Problem } from "../core/errors.ts";
import { planImageEdit, readImage, type ImageRef } from "../edit/kustomization.ts";
import { compareSemver, digestProblem, tagProblem } from "../edit/tag.ts";
import type { Spec } from "../spec/schema.ts";

export interface ImageMove {
  image: string;
  before: ImageRef;
  after: ImageRef;
}

export type ReleaseKind = "bump" | "promote" | "rollback";

export interface ReleasePlan {
  kind: ReleaseKind;
  env: string;
  from?: string;
  /** Repository-relative kustomization path. */
  file: string;
  oldText: string;
  newText: string;
  /** The images that move (their value changes), in the spec's order. */
  moves: ImageMove[];
  /** Images asked for that already run the wanted value: named nowhere in branch, title or commit. */
  unchanged: ImageMove[];
  changed: boolean;
  branch: string;
  title: string;
  commitMessage: string;
}

export function sameImageRef(a: ImageRef, b: ImageRef): boolean {
  return (a.newTag ?? null) === (b.newTag ?? null) && (a.digest ?? null) === (b.digest ?? null);
}

export function refText(ref: ImageRef): string {
  if (ref.newTag && ref.digest) return `${ref.newTag}@${ref.digest}`;
  return ref.newTag ?? ref.digest ?? "(none)";
}

/** Parses `v1.0.1`, `v1.0.1@sha256:<hex>` or (with --digest) a bare digest; every problem at once. */
export function parseTarget(tagArg: string | undefined, digestArg: string | undefined): { ref: ImageRef; problems: string[] } {
  const problems: string[] = [];
  let tag = tagArg;
  let digest = digestArg;
  if (tag !== undefined && tag.includes("@")) {
    const at = tag.indexOf("@");
    if (digest !== undefined) problems.push("give the digest either after @ or with --digest, not both");
    digest = tag.slice(at + 1);
    tag = tag.slice(0, at);
  }
  if (tag === undefined && digest === undefined) problems.push("a tag is required, e.g. `pnpm bump-image v1.0.1`");
  if (tag !== undefined) {
    const p = tagProblem(tag);
    if (p) problems.push(`tag ${JSON.stringify(tag)}: ${p}`);
  }
  if (digest !== undefined) {
    const p = digestProblem(digest);
    if (p) problems.push(`digest ${JSON.stringify(digest)}: ${p}`);
  }
  return { ref: { newTag: tag, digest }, problems };
}

/** git's rules for a branch name (git check-ref-format) that an OCI tag can break. */
export function branchNameProblem(branch: string): string | undefined {
  if (branch.includes("..")) return 'it contains ".."';
  if (/\.lock$|\.$/.test(branch) || branch.split("/").some((part) => part.startsWith(".") || part.endsWith(".lock"))) return 'a part ends in "." or ".lock" or starts with "."';
  if (branch.includes("@{")) return 'it contains "@{"';
  return undefined;
}

function slug(ref: ImageRef): string {
  if (ref.newTag) return ref.newTag;
  return `sha256-${(ref.digest ?? "").slice(7, 19)}`;
}

/** Every move of one environment lives under this prefix (status lists them, superseding looks there). */
export function branchPrefix(env: string): string {
  return `deploy/${env}/`;
}

/** A path part git accepts in a ref and that cannot be confused with our separators (`/`, `+`). */
const refSafe = (text: string) => text.replace(/[^A-Za-z0-9._-]/g, "-");

/**
 * Each image's short name in branch names: the last path segment of the image
 * (`ghcr.io/acme/api` → `api`); when two images of the spec share it, as many trailing segments
 * as make it unique, joined by `-` (`ghcr.io/a/api` → `a-api`, `docker.io/b/api` → `b-api`). An
 * image name has no `+`, so `+` can join several images in one branch name.
 */
export function imageShortNames(images: string[]): Map<string, string> {
  const parts = images.map((image) => image.split("/"));
  const names = new Map<string, string>();
  images.forEach((image, i) => {
    const mine = parts[i]!;
    let chosen = refSafe(mine.join("-"));
    for (let k = 1; k <= mine.length; k++) {
      const candidate = refSafe(mine.slice(-k).join("-"));
      if (parts.every((other, j) => j === i || refSafe(other.slice(-k).join("-")) !== candidate)) {
        chosen = candidate;
        break;
      }
    }
    // Names that only differ in characters a ref cannot hold: the position keeps them apart.
    if ([...names.values()].includes(chosen)) chosen = `${chosen}-${i + 1}`;
    names.set(image, chosen);
  });
  return names;
}

/** `--image` values: a full image name or its short name (the one in branch names). */
export function resolveImages(spec: Spec, wanted: string[], problems: Problem[], specFile: string): string[] {
  const shorts = imageShortNames(spec.images.map((i) => i.name));
  const out: string[] = [];
  for (const name of wanted) {
    const found = spec.images.find((i) => i.name === name) ?? spec.images.find((i) => shorts.get(i.name) === name);
    if (!found) {
      const names = spec.images.map((i) => i.name);
      problems.push({ file: specFile, path: "images", message: `${unknownName("image", name, [...names, ...names.map((n) => shorts.get(n)!)].filter((n, i, all) => all.indexOf(n) === i))}`, usage: true });
      continue;
    }
    if (!out.includes(found.name)) out.push(found.name);
  }
  return out;
}

/** The spec's images with their short names, for messages. */
export function imageList(spec: Spec): string {
  const shorts = imageShortNames(spec.images.map((i) => i.name));
  return spec.images.map((i) => `${i.name} (${shorts.get(i.name)})`).join(", ");
}

/** The short name of `image` among the spec's images. */
export function shortImageName(spec: Spec, image: string): string {
  return imageShortNames(spec.images.map((i) => i.name)).get(image) ?? refSafe(image.split("/").pop() ?? image);
}

/**
 * The branch of a move: `deploy/<env>/<image>/<tag>`, one per environment and image, so a move
 * of one image never shares a branch (or a pull request) with another's, even at the same tag.
 * A move of several images at once (a promote carries everything that differs in one commit, so
 * that the next stage runs the combination the previous one tested) names all of them:
 * `deploy/<env>/<a>+<b>/<tag>` when they go to the same tag, else `…/<a>+<b>/<tagA>+<tagB>`.
 * Superseding reads these names back (parseDeployBranch): a pull request is closed only by a
 * newer one that moves every image it moves.
 */
export function deployBranch(env: string, kind: ReleaseKind, moves: { short: string; after: ImageRef }[]): string {
  const slugs = moves.map((m) => slug(m.after));
  const tags = slugs.every((s) => s === slugs[0]) ? slugs[0]! : slugs.join("+");
  return `${branchPrefix(env)}${moves.map((m) => m.short).join("+")}/${kind === "rollback" ? "rollback-" : ""}${tags}`;
}

export interface DeployBranch {
  env: string;
  /** Short image names, in branch order. */
  images: string[];
  /** The tag part per image (`rollback-<tag>` for a rollback). */
  refs: Map<string, string>;
}

/** Reads a deploy branch name of `env` back; undefined for anything else (older names included). */
export function parseDeployBranch(branch: string, env: string): DeployBranch | undefined {
  if (!branch.startsWith(branchPrefix(env))) return undefined;
  const rest = branch.slice(branchPrefix(env).length).split("/");
  if (rest.length !== 2 || !rest[0] || !rest[1]) return undefined;
  const images = rest[0].split("+");
  const rollback = rest[1].startsWith("rollback-");
  const tags = (rollback ? rest[1].slice("rollback-".length) : rest[1]).split("+");
  if (images.some((i) => !i) || (tags.length !== 1 && tags.length !== images.length)) return undefined;
  const refs = new Map(images.map((image, i) => [image, `${rollback ? "rollback-" : ""}${tags[tags.length === 1 ? 0 : i]}`]));
  return { env, images, refs };
}

export interface PlanRequest {
  kind: ReleaseKind;
  env: string;
  from?: string;
  /** The images to move and where to. */
  targets: { image: string; ref: ImageRef }[];
  allowDowngrade: boolean;
  /** Problems found while parsing arguments, reported with the rest. */
  problems?: Problem[];
  /** Plan against this text instead of the file on disk (a re-run on the deploy branch plans against the base branch). */
  baseText?: string;
}

export async function planRelease(root: string, spec: Spec, request: PlanRequest): Promise<ReleasePlan> {
  const file = `overlays/${request.env}/kustomization.yaml`;
  const problems: Problem[] = [...(request.problems ?? [])];
  let oldText = request.baseText ?? "";
  if (request.baseText === undefined) {
    try {
      oldText = await readFile(join(root, file), "utf8");
    } catch {
      problems.push({ file, path: "", message: "the overlay's kustomization.yaml does not exist" });
    }
  }
  if (problems.length) throw new ValidationError(problems);

  let text = oldText;
  const moves: ImageMove[] = [];
  const unchanged: ImageMove[] = [];
  for (const target of request.targets) {
    const edit = planImageEdit(text, file, target.image, target.ref);
    const move = { image: target.image, before: edit.before, after: edit.after };
    // An image that already runs the wanted value is not part of the move (a promote lists only what differs).
    if (edit.text === text || sameImageRef(edit.before, edit.after)) unchanged.push(move);
    else {
      moves.push(move);
      text = edit.text;
    }
  }
  for (const move of moves) {
    const order = move.before.newTag && move.after.newTag ? compareSemver(move.after.newTag, move.before.newTag) : undefined;
    if (order !== undefined && order < 0 && !request.allowDowngrade) {
      problems.push({
        file,
        path: "images",
        message: `${move.image} would go down from ${move.before.newTag} to ${move.after.newTag}; pass --allow-downgrade if that is intended (a lasting rollback is better done with git revert)`,
      });
    }
  }
  if (problems.length) throw new ValidationError(problems);

  const shorts = imageShortNames(spec.images.map((i) => i.name));
  const named = (moves.length ? moves : unchanged).map((m) => ({ short: shorts.get(m.image) ?? refSafe(m.image.split("/").pop() ?? m.image), after: m.after }));
  const branch = deployBranch(request.env, request.kind, named);
  const refProblem = branchNameProblem(branch);
  if (refProblem) problems.push({ file: "<arguments>", path: "tag", message: `the tag would make the branch name ${JSON.stringify(branch)}, which git refuses: ${refProblem}` });
  if (problems.length) throw new ValidationError(problems);
  const short = (image: string) => shorts.get(image) ?? image;
  const what = (moves.length ? moves : unchanged).map((m) => `${short(m.image)} ${refText(m.before)} → ${refText(m.after)}`).join(", ");
  const title =
    request.kind === "promote" ? `promote(${request.env}): ${what} from ${request.from}` : request.kind === "rollback" ? `rollback(${request.env}): ${what}` : `deploy(${request.env}): ${what}`;
  const details = moves.map((m) => `${m.image}: ${refText(m.before)} → ${refText(m.after)}`).join("\n");
  return {
    kind: request.kind,
    env: request.env,
    from: request.from,
    file,
    oldText,
    newText: text,
    moves,
    unchanged,
    changed: text !== oldText,
    branch,
    title,
    commitMessage: `${title}\n\nEnvironment: ${request.env}\n${details}\n`,
  };
}

/** The image refs an environment runs today (for promote). */
export async function currentRefs(root: string, spec: Spec, env: string, images: string[]): Promise<{ image: string; ref: ImageRef }[]> {
  const file = `overlays/${env}/kustomization.yaml`;
  let text: string;
  try {
    text = await readFile(join(root, file), "utf8");
  } catch {
    throw new ValidationError([{ file, path: "", message: `the overlay of ${env}, the stage to promote from, does not exist` }]);
  }
  return images.map((image) => ({ image, ref: readImage(text, file, image) }));
}
