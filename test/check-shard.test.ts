// `pnpm check --shard i/n` (issue 12, item 3): the shards of a full check report, together,
// what the unsharded check reports; each only its own environments' findings; repository-wide
// findings once, in shard 1.
import { describe, expect, it } from "vitest";
import { parseSpec } from "../tools/spec/load.ts";
import { stageIds } from "../tools/spec/stages.ts";
import { filterShardFindings, ownedEnvironments, parseShard } from "../tools/check/shard.ts";
import { testRepos } from "./support/repo.ts";
import type { Finding } from "../tools/rules/types.ts";

const newRepo = testRepos();

/** A finding as `check --json` prints it (the tools' own type). */
type JsonFinding = Finding;
const findingsOf = (stdout: string) => (JSON.parse(stdout) as { findings: JsonFinding[] }).findings;
const key = (f: JsonFinding) => `${f.rule}|${f.env ?? ""}|${f.object ?? ""}|${f.path}|${f.message}`;

describe("check --shard", () => {
  it("parses i/n and refuses anything else as usage", () => {
    expect(parseShard("2/3")).toEqual({ index: 2, count: 3 });
    for (const bad of ["0/2", "3/2", "1", "a/b", "1/0", "-1/2", " 1/2"]) expect(() => parseShard(bad), bad).toThrow(/--shard takes i\/n/);
  });

  it("deals environments round-robin by name: every one in exactly one shard, the same split whatever the order", () => {
    const envs = Array.from({ length: 11 }, (_, i) => `env-${String.fromCharCode(107 - i)}`);
    const shards = [1, 2, 3].map((index) => ownedEnvironments(envs, { index, count: 3 }));
    expect(shards.map((s) => s.size)).toEqual([4, 4, 3]);
    expect(new Set(shards.flatMap((s) => [...s]))).toEqual(new Set(envs));
    expect(ownedEnvironments([...envs].reverse(), { index: 2, count: 3 })).toEqual(shards[1]);
  });

  it("reports env-less findings once, and a shard's own environments' findings only there", () => {
    const f = (env: string | undefined, rule = "x/y") => ({ rule, file: "f", path: "", message: "m", ...(env ? { env } : {}) });
    const owned = new Set(["b"]);
    const repoWide = [f(undefined, "wide/one")];
    const got = filterShardFindings([f("a"), f("b"), f("c"), f(undefined, "wide/one"), f(undefined, "from/render")], { index: 2, count: 2 }, owned, "a", repoWide);
    expect(got.map((x) => `${x.rule}:${x.env ?? "-"}`)).toEqual(["x/y:a", "x/y:b", "from/render:-"]);
    const first = filterShardFindings([f(undefined, "wide/one"), f("c")], { index: 1, count: 2 }, new Set(["a", "c"]), "a", []);
    expect(first).toHaveLength(2);
  });

  it("on a repository: the shards together report what the full check reports", { timeout: 300_000 }, async () => {
    const repo = await newRepo();
    const spec = parseSpec(await repo.read("overlays/environments.yaml"), "overlays/environments.yaml");
    // Stages: an environment on several clusters is one stage per cluster (the unit of a shard).
    const envs = stageIds(spec);
    expect(envs.length).toBeGreaterThan(1);
    const last = envs[envs.length - 1]!;
    // One environment's finding (a mutable tag in its overlay) and a repository-wide one (drift
    // of a file generate writes under argocd/).
    const kfile = `overlays/${last}/kustomization.yaml`;
    const ktext = await repo.read(kfile);
    expect(ktext).toMatch(/newTag: \S+/);
    await repo.write(kfile, ktext.replace(/newTag: \S+/, "newTag: latest"));
    const argocd = (await repo.git("ls-files", "argocd")).split("\n").find((f) => f.endsWith(".yaml") && !f.endsWith("kustomization.yaml"))!;
    await repo.write(argocd, `${await repo.read(argocd)}# drift\n`);

    const full = await repo.cli(["check", "--json"]);
    expect(full.code).toBe(1);
    const all = findingsOf(full.stdout);
    expect(all.some((f) => f.env === last)).toBe(true);
    expect(all.some((f) => f.env === undefined && f.rule === "drift/generated")).toBe(true);

    const shards = [];
    for (const index of [1, 2]) {
      const r = await repo.cli(["check", "--json", "--shard", `${index}/2`]);
      shards.push({ index, code: r.code, findings: findingsOf(r.stdout), owned: ownedEnvironments(envs, { index, count: 2 }) });
    }
    // The union is the full check's findings.
    expect(new Set(shards.flatMap((s) => s.findings.map(key)))).toEqual(new Set(all.map(key)));
    for (const s of shards) {
      for (const f of s.findings) if (f.env !== undefined) expect(s.owned.has(f.env) || f.env === envs[0], `${s.index}: ${key(f)}`).toBe(true);
      // Drift only in shard 1.
      expect(s.findings.some((f) => f.rule === "drift/generated"), `shard ${s.index}`).toBe(s.index === 1);
    }
    // The shard that owns the broken environment fails on it; every shard fails here (shard 1 on the drift).
    const owner = shards.find((s) => s.owned.has(last))!;
    expect(owner.findings.some((f) => f.env === last)).toBe(true);
    expect(shards.filter((s) => !s.owned.has(last) && last !== envs[0]).every((s) => !s.findings.some((f) => f.env === last))).toBe(true);
    expect(shards.map((s) => s.code)).toEqual([1, owner.index === 2 ? 1 : shards[1]!.findings.length ? 1 : 0]);

    const usage = await repo.cli(["check", "--shard", "3/2"]);
    expect(usage.code).toBe(2);
  });
});
