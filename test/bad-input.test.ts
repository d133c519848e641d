// Bad input to bump-image and promote, one CLI subprocess per case against a fresh temp copy of
// this repository: each must fail with a clear message on stderr, the right exit code (2 for
// usage errors: how the command was called, including an unknown environment, image or ref;
// 1 for invalid values and unmet preconditions), and leave the repository exactly
// as it was — files (tracked, untracked, uncommitted edits), index, HEAD, branches, every ref and
// the origin's refs. Expected substrings are written by hand from what the user did wrong.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createTestRepo, FIXTURE_ROOT, type TestRepo } from "./support/repo.ts";

const exec = promisify(execFile);

const DEV = "overlays/dev/kustomization.yaml";
const STAGING = "overlays/staging/kustomization.yaml";
const IMAGES_BLOCK = "images:\n  - name: ghcr.io/ringlet/ringlet\n    newTag: v1.0.0\n";
const HEX = "0123456789abcdef".repeat(4);
const SPEC = "overlays/environments.yaml";
const SPEC_TEXT = readFileSync(join(FIXTURE_ROOT, SPEC), "utf8");
/** 1-based line of the only line of the spec that starts with `text`: what an error must point at. */
function specLine(text: string, replaced = SPEC_TEXT): number {
  const lines = replaced.split("\n");
  // A top-level key first (`images:` is also a layer's `images: true` in the v2 spec).
  const top = lines.flatMap((l, i) => (l.startsWith(text) ? [i + 1] : []));
  const found = top.length === 1 ? top : lines.flatMap((l, i) => (l.trimStart().startsWith(text) ? [i + 1] : []));
  if (found.length !== 1) throw new Error(`fixture: ${JSON.stringify(text)} must occur once in the spec`);
  return found[0]!;
}
/** A spec edit committed before the command runs. */
function specEdit(from: string, to: string): (repo: TestRepo) => Promise<void> {
  return async (repo) => commitFile(repo, SPEC, await replaceInFile(repo, SPEC, from, to), "edit the spec");
}
const HOLDS = "overlays/holds.yaml";




async function commitFile(repo: TestRepo, path: string, text: string, message: string) {
  await repo.write(path, text);
  await repo.git("add", "--", path);
  await repo.git("commit", "--quiet", "-m", message);
}

async function replaceInFile(repo: TestRepo, path: string, from: string, to: string): Promise<string> {
  const text = await repo.read(path);
  if (text.split(from).length !== 2) throw new Error(`fixture: ${JSON.stringify(from)} must occur once in ${path}`);
  return text.replace(from, to);
}

interface Case {
  name: string;
  args: string[];
  /** Prepares the repository (committed or not) before the snapshot is taken. */
  setup?: (repo: TestRepo) => Promise<void>;
  env?: NodeJS.ProcessEnv;
  code: 1 | 2;
  /** Substrings stderr must contain. */
  says: string[];
}

const cases: Case[] = [
  // ---- the tag
  { name: "empty tag", args: ["bump-image", ""], code: 1, says: ["tag is empty"] },
  { name: "no tag at all", args: ["bump-image"], code: 2, says: ["expected a tag"] },
  { name: "shell injection with a space", args: ["bump-image", "v1.0.1;rm -rf /"], code: 1, says: ['"v1.0.1;rm -rf /"', "white space"] },
  { name: "shell metacharacter, no space", args: ["bump-image", "v1.0.1;id"], code: 1, says: ['"v1.0.1;id"', "OCI tag grammar"] },
  { name: "command substitution", args: ["bump-image", "$(id)"], code: 1, says: ['"$(id)"', "OCI tag grammar"] },
  { name: "path traversal", args: ["bump-image", "../x"], code: 1, says: ['"../x"', 'may not start with "."'] },
  { name: "slash in tag", args: ["bump-image", "feature/x"], code: 1, says: ['"feature/x"', "OCI tag grammar"] },
  { name: "colon in tag", args: ["bump-image", "v1:2"], code: 1, says: ['"v1:2"', "OCI tag grammar"] },
  { name: "129-character tag", args: ["bump-image", `v${"1".repeat(128)}`], code: 1, says: ["129 characters", "at most 128"] },
  { name: "leading dot", args: ["bump-image", ".v1.0.1"], code: 1, says: ['may not start with "."'] },
  { name: "leading dash as a flag", args: ["bump-image", "-x"], code: 2, says: ["Unknown option '-x'", "--help"] },
  { name: "leading dash after --", args: ["bump-image", "--", "-v1.0.1"], code: 1, says: ['"-v1.0.1"', 'may not start with "-"'] },
  { name: "unicode tag", args: ["bump-image", "v1.0.1-ünïcode"], code: 1, says: ['"v1.0.1-ünïcode"', "OCI tag grammar"] },
  { name: "space inside the tag", args: ["bump-image", "v1.0 .1"], code: 1, says: ["white space"] },
  { name: "trailing newline", args: ["bump-image", "v1.0.1\n"], code: 1, says: ["white space"] },
  { name: "tab in tag", args: ["bump-image", "v1.0.1\tx"], code: 1, says: ["white space"] },
  { name: "tag latest", args: ["bump-image", "latest"], code: 1, says: ['"latest"', "use a version"] },
  // ---- environment and image
  { name: "unknown environment", args: ["bump-image", "v1.0.1", "--env", "qa"], code: 2, says: ['unknown environment "qa"', "dev, staging, prod"] },
  { name: "unknown environment, = form with a dash", args: ["bump-image", "v1.0.1", "--env=-x"], code: 2, says: ['unknown environment "-x"'] },
  { name: "--env without a value", args: ["bump-image", "v1.0.1", "--env"], code: 2, says: ["--env", "argument missing"] },
  { name: "unknown image", args: ["bump-image", "v1.0.1", "--image", "nginx"], code: 2, says: ['unknown image "nginx"', "ghcr.io/ringlet/ringlet"] },
  // ---- the overlay file
  {
    name: "malformed kustomization.yaml",
    args: ["bump-image", "v1.0.1"],
    setup: async (repo) => commitFile(repo, DEV, await replaceInFile(repo, DEV, "    newTag: v1.0.0\n", "    newTag: [v1.0.0\n"), "break the dev overlay"),
    code: 1,
    says: [DEV, "line "],
  },
  {
    name: "overlay without an images: entry",
    args: ["bump-image", "v1.0.1"],
    setup: async (repo) => commitFile(repo, DEV, await replaceInFile(repo, DEV, IMAGES_BLOCK, ""), "drop images from dev"),
    code: 1,
    says: [DEV, "no images: list"],
  },
  {
    name: "overlay whose images: list lacks the image",
    args: ["bump-image", "v1.0.1"],
    setup: async (repo) => commitFile(repo, DEV, await replaceInFile(repo, DEV, IMAGES_BLOCK, "images:\n  - name: nginx\n    newTag: '1.27'\n"), "other image only"),
    code: 1,
    says: [DEV, "no entry named ghcr.io/ringlet/ringlet", "nginx"],
  },
  // ---- digests
  { name: "digest too short (@ form)", args: ["bump-image", "v2.0.0@sha256:abc123"], code: 1, says: ["sha256:abc123", "64 hex characters", "got 6"] },
  { name: "digest too long (--digest)", args: ["bump-image", "--digest", `sha256:${HEX}0`], code: 1, says: ["64 hex characters", "got 65"] },
  { name: "digest with upper-case hex", args: ["bump-image", `v2.0.0@sha256:${HEX.toUpperCase()}`], code: 1, says: ["lower-case"] },
  { name: "digest without sha256: (--digest)", args: ["bump-image", "--digest", HEX], code: 1, says: ["must start with sha256:"] },
  { name: "digest without sha256: (@ form)", args: ["bump-image", `v2.0.0@${HEX}`], code: 1, says: ["must start with sha256:"] },
  { name: "other algorithm", args: ["bump-image", "--digest", `sha512:${HEX}${HEX}`], code: 1, says: ["must start with sha256:"] },
  {
    name: "both @digest and --digest",
    args: ["bump-image", `v2.0.0@sha256:${HEX}`, "--digest", `sha256:${"f".repeat(64)}`],
    code: 1,
    says: ["either after @ or with --digest, not both"],
  },
  // ---- the working tree
  {
    name: "dirty tree (uncommitted edit)",
    args: ["bump-image", "v1.0.1"],
    setup: async (repo) => repo.write("overlays/dev/replicas.yaml", `${await repo.read("overlays/dev/replicas.yaml")}# local edit\n`),
    code: 1,
    says: ["uncommitted changes", "overlays/dev/replicas.yaml"],
  },
  {
    name: "dirty tree (uncommitted edit of the file to change)",
    args: ["bump-image", "v1.0.1"],
    setup: async (repo) => repo.write(DEV, `${await repo.read(DEV)}# local edit\n`),
    code: 1,
    says: ["uncommitted changes", DEV],
  },
  {
    name: "dirty tree (staged edit)",
    args: ["promote", "staging"],
    setup: async (repo) => {
      await repo.write("overlays/staging/replicas.yaml", `${await repo.read("overlays/staging/replicas.yaml")}# staged edit\n`);
      await repo.git("add", "overlays/staging/replicas.yaml");
    },
    code: 1,
    says: ["uncommitted changes", "overlays/staging/replicas.yaml"],
  },
  { name: "untracked file", args: ["bump-image", "v1.0.1"], setup: async (repo) => repo.write("notes.txt", "scratch\n"), code: 1, says: ["uncommitted changes", "notes.txt"] },
  { name: "detached HEAD", args: ["bump-image", "v1.0.1"], setup: async (repo) => void (await repo.git("checkout", "--quiet", "--detach", "HEAD")), code: 1, says: ["HEAD is detached"] },
  { name: "--pr without a token", args: ["bump-image", "v1.0.1", "--pr"], code: 1, says: ["--pr", "GITHUB_TOKEN"] },
  { name: "--pr without a token (promote)", args: ["promote", "staging", "--pr"], code: 1, says: ["--pr", "GITHUB_TOKEN"] },
  // ---- concurrency and the GitHub connection (issue 11, items 2 and 5)
  {
    name: "repository lock held by another run",
    args: ["bump-image", "v1.0.1"],
    // This test process is alive, so the lock it names is held.
    setup: async (repo) => writeFile(join(repo.root, ".git", "gitops.lock"), JSON.stringify({ pid: process.pid, host: hostname(), command: "promote staging", started: "2026-01-01T00:00:00.000Z" })),
    code: 1,
    says: ["another run is writing to this repository", `pid ${process.pid}`, "`promote staging`"],
  },
  {
    name: "plain-http GITHUB_API_URL off this machine",
    args: ["bump-image", "v1.0.1"],
    env: { GITHUB_TOKEN: "ghs_NOTSENT123", GITHUB_API_URL: "http://github.example.com/api/v3", GITHUB_REPOSITORY: "ringlet/ringlet-gitops" },
    code: 1,
    says: ["GITHUB_API_URL http://github.example.com is plain http", "clear text"],
  },
  { name: "a tag of --help after -- (as the workflows pass it)", args: ["bump-image", "--env", "dev", "--", "--help"], code: 1, says: ['"--help"', 'may not start with "-"'] },
  // ---- flags and positionals
  { name: "unknown flag", args: ["bump-image", "v1.0.1", "--bogus"], code: 2, says: ["Unknown option '--bogus'"] },
  { name: "flag of the other command", args: ["bump-image", "v1.0.1", "--from", "dev"], code: 2, says: ["Unknown option '--from'"] },
  { name: "too many positionals", args: ["bump-image", "v1.0.1", "v1.0.2"], code: 2, says: ["expected one tag, got 2"] },
  { name: "promote without a target", args: ["promote"], code: 2, says: ["promote <to>"] },
  { name: "promote with three positionals", args: ["promote", "dev", "staging", "prod"], code: 2, says: ["promote <from> <to>"] },
  { name: "promote --from and positionals together", args: ["promote", "--from", "dev", "staging"], code: 2, says: ["either --from <env> or positional"] },
  { name: "promote --from an unknown environment", args: ["promote", "--from", "qa"], code: 2, says: ['unknown environment "qa"', "--from"] },
  { name: "promote with a bump-image flag", args: ["promote", "staging", "--digest", `sha256:${HEX}`], code: 2, says: ["Unknown option '--digest'"] },
  // ---- promotion order
  { name: "promote backwards", args: ["promote", "prod", "staging"], code: 1, says: ["prod", "staging", "goes forward"] },
  { name: "promote backwards with --force", args: ["promote", "staging", "dev", "--force"], code: 1, says: ["goes forward"] },
  { name: "promote skipping a stage", args: ["promote", "dev", "prod"], code: 1, says: ["skips staging", "--force"] },
  { name: "promote the first stage", args: ["promote", "dev"], code: 1, says: ["dev is the first stage"] },
  { name: "promote the first stage to itself", args: ["promote", "dev", "dev"], code: 1, says: ["cannot promote dev to itself"] },
  { name: "promote to an unknown environment", args: ["promote", "qa"], code: 2, says: ['unknown environment "qa"'] },
  { name: "promote from an unknown environment", args: ["promote", "qa", "prod"], code: 2, says: ['unknown environment "qa"'] },
  { name: "promote an unknown image", args: ["promote", "staging", "--image", "nginx"], code: 2, says: ['unknown image "nginx"'] },
  // ---- downgrades
  { name: "downgrade without --allow-downgrade", args: ["bump-image", "v0.9.0"], code: 1, says: ["from v1.0.0 to v0.9.0", "--allow-downgrade"] },
  { name: "pre-release below the release", args: ["bump-image", "v1.0.0-rc.1"], code: 1, says: ["from v1.0.0 to v1.0.0-rc.1", "--allow-downgrade"] },
  {
    name: "promote that would downgrade the target",
    args: ["promote", "staging"],
    setup: async (repo) => commitFile(repo, STAGING, await replaceInFile(repo, STAGING, "    newTag: v1.0.0\n", "    newTag: v2.0.0\n"), "staging ahead"),
    code: 1,
    says: ["from v2.0.0 to v1.0.0", "--allow-downgrade"],
  },
  // ---- gates, holds, rollback (the spec's file, line and path; the tree as it was)
  {
    name: "unparsable freeze window schedule",
    args: ["bump-image", "v1.0.1"],
    setup: specEdit('schedule: "0 15 * * 5"', 'schedule: "61 15 * * 5"'),
    code: 1,
    says: [`${SPEC}:${specLine('schedule: "0 15 * * 5"')}: environments.prod.gates.windows[0].schedule: "61 15 * * 5" is not a cron schedule`, "minute"],
  },
  {
    name: "freeze window schedule with six fields",
    args: ["promote", "staging"],
    setup: specEdit('schedule: "0 15 * * 5"', 'schedule: "0 0 15 * * 5"'),
    code: 1,
    says: [`${SPEC}:${specLine('schedule: "0 15 * * 5"')}: environments.prod.gates.windows[0].schedule:`, "five fields"],
  },
  {
    name: "unparsable soak duration",
    args: ["bump-image", "v1.0.1"],
    setup: specEdit("soak: 24h", "soak: 1 day"),
    code: 1,
    says: [`${SPEC}:${specLine("soak: 24h")}: environments.prod.gates.soak: "1 day" is not a duration such as "30m", "24h", "2d"`],
  },
  {
    name: "unparsable window duration",
    args: ["bump-image", "v1.0.1"],
    setup: specEdit("duration: 65h", "duration: 65hours"),
    code: 1,
    says: [`${SPEC}:${specLine("duration: 65h")}: environments.prod.gates.windows[0].duration: "65hours" is not a duration`],
  },
  {
    name: "unknown time zone",
    args: ["bump-image", "v1.0.1"],
    setup: specEdit("timeZone: UTC", "timeZone: Mars/Olympus"),
    code: 1,
    says: [`${SPEC}:${specLine("timeZone: UTC")}: environments.prod.gates.windows[0].timeZone: "Mars/Olympus" is not an IANA time zone`],
  },
  {
    name: "soak on the first stage",
    args: ["bump-image", "v1.0.1"],
    setup: specEdit("    host: dev.ringlet.example.com\n    sync: auto\n", "    host: dev.ringlet.example.com\n    sync: auto\n    gates: { soak: 1h }\n"),
    code: 1,
    says: ["environments.dev.gates.soak: dev is the first stage"],
  },
  {
    name: "hold on an unknown environment",
    args: ["bump-image", "v1.0.1"],
    setup: async (repo) => commitFile(repo, HOLDS, "# holds\nholds:\n  - environment: qa\n    reason: nobody knows\n", "hold qa"),
    code: 1,
    says: [`${HOLDS}:3: holds[0].environment: unknown environment "qa"; environments: dev, staging, prod`],
  },
  {
    name: "hold on an unknown image",
    args: ["promote", "staging"],
    setup: async (repo) => commitFile(repo, HOLDS, "holds:\n  - environment: staging\n    image: nginx\n    reason: pinned\n", "hold nginx"),
    code: 1,
    says: [`${HOLDS}:3: holds[0].image: unknown image "nginx"; images: ghcr.io/ringlet/ringlet`],
  },
  {
    name: "hold without a reason",
    args: ["bump-image", "v1.0.1"],
    setup: async (repo) => commitFile(repo, HOLDS, "holds:\n  - environment: dev\n    reason: ''\n", "hold dev"),
    code: 1,
    says: [`${HOLDS}:3: holds[0].reason: a hold needs a reason`],
  },
  {
    name: "a held environment",
    args: ["bump-image", "v1.0.1"],
    setup: async (repo) => commitFile(repo, HOLDS, "holds:\n  - environment: dev\n    reason: INC-3\n", "hold dev"),
    code: 1,
    says: [`${HOLDS}:2: holds[0]: dev is held: INC-3. Release the hold`],
  },
  { name: "a gate refuses (the tag never ran in staging)", args: ["bump-image", "v1.0.1", "--env", "prod", "--force"], code: 1, says: ["the gates of prod refuse this move", "v1.0.1 never ran in staging", "--override"] },
  { name: "override without a reason", args: ["bump-image", "v1.0.1", "--env", "prod", "--force", "--override", "soak="], code: 2, says: ["--override soak needs a reason"] },
  { name: "override of an unknown gate", args: ["bump-image", "v1.0.1", "--env", "prod", "--force", "--override", "mood=good"], code: 2, says: ['unknown gate "mood"'] },
  { name: "override of a gate dev does not have", args: ["bump-image", "v1.0.1", "--override", "window=now"], code: 1, says: ["dev declares no window gate to override"] },
  { name: "GITOPS_NOW that is not a time", args: ["bump-image", "v1.0.1", "--env", "prod", "--force"], env: { GITOPS_NOW: "tomorrow" }, code: 2, says: ['GITOPS_NOW="tomorrow" is not an ISO 8601 time'] },
  { name: "rollback an unknown environment", args: ["rollback", "qa"], code: 1, says: [`${SPEC}:${specLine("environments:")}: environments: unknown environment "qa"; environments: dev, staging, prod`] },
  { name: "rollback an unknown image", args: ["rollback", "prod", "--image", "nginx"], code: 2, says: [`${SPEC}:${SPEC_TEXT.split("\n").indexOf("images:") + 1}: images: unknown image "nginx"`] },
  { name: "rollback to a tag never run", args: ["rollback", "prod", "--to", "v0.1.0"], code: 1, says: ['prod never ran ghcr.io/ringlet/ringlet "v0.1.0"', "--force"] },
  { name: "rollback to a bad tag", args: ["rollback", "prod", "--to", "$(id)"], code: 1, says: ['"$(id)"', "OCI tag grammar"] },
  { name: "rollback with nothing before", args: ["rollback", "prod"], code: 1, says: ["prod has no entry 1 step back"] },
  { name: "rollback with --to and --steps", args: ["rollback", "prod", "--to", "v1.0.0", "--steps", "1"], code: 2, says: ["either --to <tag> or --steps <n>"] },
  { name: "rollback --steps 0", args: ["rollback", "prod", "--steps", "0"], code: 2, says: ["--steps takes a positive whole number"] },
  { name: "rollback without an environment", args: ["rollback"], code: 2, says: ["expected one environment"] },
  // ---- issue 11: every command tells the truth
  // 10: a later stage moved by bump-image is held to promote's order rule.
  { name: "bump a later stage ahead of the one before it", args: ["bump-image", "v1.1.0", "--env", "staging"], code: 1, says: ["staging would run ghcr.io/ringlet/ringlet v1.1.0, ahead of the previous stage, dev (v1.0.0)", "--force"] },
  { name: "bump prod to a tag staging does not run", args: ["bump-image", "build-77", "--env", "prod"], code: 1, says: ["which the previous stage does not run, staging", "bump dev and promote"] },
  // 13: a dry run checks what the real run checks.
  { name: "--dry-run on a dirty tree", args: ["bump-image", "v1.0.1", "--dry-run"], setup: async (repo) => repo.write("notes.txt", "scratch\n"), code: 1, says: ["--dry-run: the real run would refuse", "uncommitted changes", "notes.txt"] },
  {
    name: "--dry-run on another branch",
    args: ["promote", "staging", "--dry-run"],
    setup: async (repo) => {
      await repo.git("checkout", "--quiet", "-b", "feature");
      await commitFile(repo, DEV, await replaceInFile(repo, DEV, "    newTag: v1.0.0\n", "    newTag: v1.0.5\n"), "dev on v1.0.5");
    },
    code: 1,
    says: ["--dry-run: the real run would refuse", "you are on feature", "git switch main"],
  },
  {
    name: "--dry-run in the middle of a conflicted merge",
    args: ["bump-image", "v1.0.1", "--dry-run"],
    setup: async (repo) => {
      await repo.git("checkout", "--quiet", "-b", "other");
      await commitFile(repo, "overlays/dev/replicas.yaml", "# theirs\n", "theirs");
      await repo.git("checkout", "--quiet", "main");
      await commitFile(repo, "overlays/dev/replicas.yaml", "# ours\n", "ours");
      await repo.git("merge", "--quiet", "other").catch(() => undefined);
    },
    code: 1,
    says: ["--dry-run: the real run would refuse", "overlays/dev/replicas.yaml"],
  },
  // 15: conventions.
  {
    name: "a default branch behind its remote",
    args: ["bump-image", "v1.0.1"],
    setup: async (repo) => {
      await commitFile(repo, "notes.md", "merged elsewhere\n", "a commit origin has");
      await repo.git("push", "--quiet", "origin", "main");
      await repo.git("reset", "--quiet", "--hard", "HEAD~1");
    },
    code: 1,
    says: ["main is 1 commit behind origin/main", "git pull"],
  },
  {
    name: "partial semver downgrade",
    args: ["bump-image", "v1.2"],
    setup: async (repo) => commitFile(repo, DEV, await replaceInFile(repo, DEV, "    newTag: v1.0.0\n", "    newTag: v1.9.0\n"), "dev on v1.9.0"),
    code: 1,
    says: ["from v1.9.0 to v1.2", "--allow-downgrade"],
  },
  { name: "a value flag given twice", args: ["bump-image", "v1.0.1", "--env", "dev", "--env", "prod"], code: 2, says: ["--env was given more than once"] },
  { name: "--image given twice (promote)", args: ["promote", "staging", "--image", "ghcr.io/ringlet/ringlet", "--image", "ghcr.io/ringlet/ringlet"], code: 2, says: ["--image was given more than once"] },
  { name: "--root given twice", args: ["check", "--root", "."], code: 2, says: ["--root was given more than once"] },
  { name: "check with an argument", args: ["check", "dev"], code: 2, says: ['check takes no arguments, got "dev"'] },
  { name: "generate with an argument", args: ["generate", "all"], code: 2, says: ['generate takes no arguments, got "all"'] },
  { name: "render with two environments", args: ["render", "dev", "prod"], code: 2, says: ['unexpected argument "prod"'] },
  { name: "render an unknown environment", args: ["render", "qa"], code: 2, says: ['unknown environment "qa"'] },
  { name: "render constructor (an Object.prototype name)", args: ["render", "constructor"], code: 2, says: ['unknown environment "constructor"'] },
  { name: "plan toString", args: ["plan", "toString"], code: 2, says: ['unknown environment "toString"'] },
  { name: "bump-image --env constructor", args: ["bump-image", "v1.0.1", "--env", "constructor"], code: 2, says: ['unknown environment "constructor"'] },
  { name: "history of an unknown ref", args: ["history", "dev", "--ref", "no-such-ref"], code: 2, says: ['--ref "no-such-ref" is not a commit'] },
  { name: "status of an unknown ref", args: ["status", "--ref", "no-such-ref"], code: 2, says: ['--ref "no-such-ref" is not a commit'] },
  { name: "diff against an unknown ref", args: ["diff", "--base", "no-such-ref"], code: 2, says: ["--base no-such-ref is not a commit"] },
  { name: "history with an unknown image", args: ["history", "dev", "--image", "nginx"], code: 2, says: ['unknown image "nginx"'] },
  {
    name: "an environment named __proto__ in the spec",
    args: ["bump-image", "v1.0.1"],
    setup: async (repo) => commitFile(repo, "overlays/environments.yaml", await replaceInFile(repo, "overlays/environments.yaml", "\n  staging:\n", "\n  __proto__:\n"), "a reserved name"),
    code: 1,
    says: ["environments.__proto__: ", "cannot be used as a name"],
  },
  {
    name: "generate over an overlay whose images: block was removed",
    args: ["generate"],
    setup: async (repo) => commitFile(repo, "overlays/prod/kustomization.yaml", await replaceInFile(repo, "overlays/prod/kustomization.yaml", IMAGES_BLOCK, ""), "drop prod's images"),
    code: 1,
    says: ["overlays/prod/kustomization.yaml: images: has no images: list", "start prod over at ghcr.io/ringlet/ringlet v1.0.0 (initialTag)"],
  },
];

const repos: TestRepo[] = [];
afterAll(async () => {
  await Promise.all(repos.splice(0).map((r) => r.cleanup()));
});

describe.concurrent("bad input is refused clearly and changes nothing", () => {
  it("has enough cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it.for(cases)("$name", async (c, { expect }) => {
    const repo = await createTestRepo();
    repos.push(repo);
    await c.setup?.(repo);
    const before = await repo.state();

    const result = await repo.cli(c.args, c.env);

    const report = `${c.args.join(" ")}\n--- stderr\n${result.stderr}--- stdout\n${result.stdout}`;
    expect(result.code, report).toBe(c.code);
    for (const text of c.says) expect(result.stderr, report).toContain(text);
    expect(result.stderr, report).toMatch(/^error: /);
    expect(result.stderr, report).not.toContain("unexpected failure");
    expect(result.stderr, report).not.toMatch(/\n\s+at /);
    expect(result.stdout, report).toBe("");
    expect(await repo.state()).toEqual(before);
  });
});
