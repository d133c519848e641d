// Planning a tag move (bump-image and promote): validate everything, compute the exact new text
// of the overlay's kustomization. Pure apart from reading the file; nothing is written here.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ValidationError, type Problem } from "../core/errors.ts";
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
  moves: ImageMove[];
  changed: boolean;
  branch: string;
  title: string;
  commitMessage: string;
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

/** The branch a move of `env` lives on; every move of one environment shares the prefix (supersede). */
export function branchPrefix(env: string): string {
  return `deploy/${env}/`;
}

function shortImage(image: string): string {
  return image.split("/").pop() ?? image;
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
  for (const target of request.targets) {
    const edit = planImageEdit(text, file, target.image, target.ref);
    moves.push({ image: target.image, before: edit.before, after: edit.after });
    text = edit.text;
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

  const main = moves[0]!;
  // A rollback's branch says so (the promote workflow does not carry a rollback to the next stage).
  const branch = `${branchPrefix(request.env)}${request.kind === "rollback" ? "rollback-" : ""}${slug(main.after)}`;
  const refProblem = branchNameProblem(branch);
  if (refProblem) problems.push({ file: "<arguments>", path: "tag", message: `the tag would make the branch name ${JSON.stringify(branch)}, which git refuses: ${refProblem}` });
  if (problems.length) throw new ValidationError(problems);
  const what = moves.map((m) => `${shortImage(m.image)} ${refText(m.before)} → ${refText(m.after)}`).join(", ");
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
