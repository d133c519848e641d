// Holds: an environment, or one image in it, kept at the tag it runs until the hold is released.
// A hold is an entry in overlays/holds.yaml, a file of its own rather than a field of the spec:
//  - it is operational state an on-call sets during an incident, not configuration: the pull
//    request that adds or removes one changes nothing that renders (`pnpm diff` shows nothing,
//    Argo CD syncs nothing), so it can be reviewed and merged in a minute;
//  - CODEOWNERS can let on-call approve holds.yaml without owning the spec that generates every
//    overlay, and a hold never conflicts with a spec change in flight;
//  - like everything else it is a commit: who held what, when and why is in `git log`.
// bump-image, promote and rollback (and so the workflows that run them) refuse to move what is
// held; `pnpm status` lists the holds with their reasons.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ValidationError, type Problem, unknownName } from "../core/errors.ts";
import { parseYaml } from "../core/yaml.ts";
import { withLines } from "../spec/load.ts";
import type { Spec } from "../spec/schema.ts";
import { findStage } from "../spec/stages.ts";

export const HOLDS_FILE = "overlays/holds.yaml";

const holdSchema = z.strictObject({
  environment: z.string().min(1),
  /** Without it, every image of the environment is held. */
  image: z.string().min(1).optional(),
  reason: z.string().trim().min(1, "a hold needs a reason (the incident, the ticket, who to ask)"),
});

const holdsSchema = z.strictObject({ holds: z.array(holdSchema).nullable().default([]) });

export type Hold = z.infer<typeof holdSchema> & { /** Its line in the holds file. */ line?: number };

function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".").replace(/\.\[/g, "[");
}

/** Parses and checks holds against the spec: every problem at once, with file, line and path. */
export async function parseHolds(text: string, spec: Spec, file = HOLDS_FILE): Promise<Hold[]> {
  const raw = parseYaml(text, file);
  const parsed = holdsSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ValidationError(await withLines(parsed.error.issues.map((i) => ({ file, path: pathOf(i.path), message: i.message })), text));
  const holds = parsed.data.holds ?? [];
  const problems: Problem[] = [];
  const envs = Object.keys(spec.environments);
  const images = spec.images.map((i) => i.name);
  holds.forEach((hold, i) => {
    if (!spec.environments[hold.environment] && !findStage(spec, hold.environment)) problems.push({ file, path: `holds[${i}].environment`, message: unknownName("environment", hold.environment, envs) });
    if (hold.image !== undefined && !images.includes(hold.image)) problems.push({ file, path: `holds[${i}].image`, message: unknownName("image", hold.image, images) });
  });
  if (problems.length) throw new ValidationError(await withLines(problems, text));
  const located = await withLines(holds.map((_, i) => ({ file, path: `holds[${i}]`, message: "" })), text);
  return holds.map((hold, i) => ({ ...hold, line: located[i]!.line }));
}

/** The holds of the repository; none when the file does not exist. */
export async function loadHolds(root: string, spec: Spec): Promise<Hold[]> {
  let text: string;
  try {
    text = await readFile(join(root, HOLDS_FILE), "utf8");
  } catch {
    return [];
  }
  return parseHolds(text, spec);
}

/** The holds that keep `image` of `env` where it is. */
export function holdsOn(holds: Hold[], env: string, image: string): Hold[] {
  // A hold on an environment holds each of its clusters' stages ("<env>/<cluster>") too.
  return holds.filter((h) => (h.environment === env || env.startsWith(`${h.environment}/`)) && (h.image === undefined || h.image === image));
}

/** One problem per held image among those a move would change. */
export function holdProblems(holds: Hold[], env: string, moving: string[]): Problem[] {
  const problems: Problem[] = [];
  for (const image of moving) {
    for (const hold of holdsOn(holds, env, image)) {
      const what = hold.image === undefined ? env : `${image} in ${env}`;
      problems.push({ file: HOLDS_FILE, line: hold.line, path: `holds[${holds.indexOf(hold)}]`, message: `${what} is held: ${hold.reason}. Release the hold (remove it from ${HOLDS_FILE}, by a pull request) before moving it` });
    }
  }
  return problems;
}
