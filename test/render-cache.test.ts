// The render cache (issue 12, item 3), with the real kustomize: an entry is used only while every
// input of its overlay is byte-identical (a base resource, a patch, a component's file, a
// generator's env file), a corrupt, foreign or tampered entry is re-rendered, and an entry that
// git tracks is never read, so a pull request cannot hide a finding behind a crafted one.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { CACHE_DIR, decodeEntry, encodeEntry, entryDigest, ENTRY_SUFFIX, RenderCache, type EntryParts } from "../tools/render/cache.ts";
import { render } from "../tools/render/kustomize.ts";
import { testRepos, type TestRepo } from "./support/repo.ts";

// A small kustomize tree of its own: a base with a generator (env file and plain file), a
// component with a patch, an overlay with a patch of its own.
const TREE: Record<string, string> = {
  "base/kustomization.yaml": `resources:\n  - deployment.yaml\nconfigMapGenerator:\n  - name: settings\n    envs: [settings.env]\n    files: [extra.txt]\n`,
  "base/deployment.yaml": `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: example.com/web:v1\n          envFrom: [{configMapRef: {name: settings}}]\n`,
  "base/settings.env": "LOG_LEVEL=INFO\n",
  "base/extra.txt": "one\n",
  "components/tuning/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - path: tuning.yaml\n`,
  "components/tuning/tuning.yaml": `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  revisionHistoryLimit: 3\n`,
  "overlays/dev/kustomization.yaml": `namespace: dev\nresources:\n  - ../../base\ncomponents:\n  - ../../components/tuning\npatches:\n  - path: replicas.yaml\n`,
  "overlays/dev/replicas.yaml": `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n`,
};

let root: string;
const overlay = () => join(root, "overlays", "dev");

async function writeTree(files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

/** One run: a fresh cache object, as each command invocation opens its own. */
async function cachedRender(): Promise<{ output: string; cache: RenderCache }> {
  const cache = await RenderCache.forRepository(root);
  return { output: await render(overlay(), { root, cache }), cache };
}

/** An entry file's parts; the test fails here if the cache wrote something that is not one. */
function decoded(text: string): EntryParts {
  const e = decodeEntry(text);
  if (!e) throw new Error("not a cache entry");
  return e;
}

async function entries(): Promise<string[]> {
  return (await readdir(join(root, CACHE_DIR)).catch(() => [] as string[])).filter((n) => n.endsWith(ENTRY_SUFFIX));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "gitops-render-cache-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("render cache: keyed on the content of every input", () => {
  beforeAll(async () => {
    await rm(join(root, ".cache"), { recursive: true, force: true });
    await writeTree(TREE);
  });

  it("stores a render and serves it on the next run without kustomize", async () => {
    const first = await cachedRender();
    expect(first.cache.stats).toMatchObject({ hits: 0, writes: 1 });
    const second = await cachedRender();
    expect(second.cache.stats).toMatchObject({ hits: 1, writes: 0 });
    expect(second.output).toBe(first.output);
    expect(second.output).toBe(await render(overlay(), { root }));
    // Ignored by git whatever the repository's own .gitignore says.
    expect(await readFile(join(root, ".cache", ".gitignore"), "utf8")).toMatch(/^\*$/m);
  });

  const edits: [string, string, (t: string) => string, string][] = [
    ["a base resource", "base/deployment.yaml", (t) => t.replace("example.com/web:v1", "example.com/web:v2"), "example.com/web:v2"],
    ["an overlay patch", "overlays/dev/replicas.yaml", (t) => t.replace("replicas: 2", "replicas: 5"), "replicas: 5"],
    ["a component's patch", "components/tuning/tuning.yaml", (t) => t.replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 7"), "revisionHistoryLimit: 7"],
    ["a generator's env file", "base/settings.env", (t) => t.replace("INFO", "DEBUG"), "LOG_LEVEL: DEBUG"],
    ["a generator's file", "base/extra.txt", () => "two\n", "two"],
  ];
  for (const [what, file, edit, expected] of edits) {
    it(`renders again when ${what} changes (same size and time do not matter: content)`, async () => {
      await cachedRender(); // warm
      const before = await readFile(join(root, file), "utf8");
      await writeFile(join(root, file), edit(before));
      try {
        const after = await cachedRender();
        expect(after.cache.stats.hits).toBe(0);
        expect(after.output).toContain(expected);
        expect(after.output).toBe(await render(overlay(), { root }));
      } finally {
        await writeFile(join(root, file), before);
      }
      // Back to the old content: the old entry is valid again.
      const again = await cachedRender();
      expect(again.cache.stats.hits).toBe(1);
      expect(again.output).not.toContain(expected);
    });
  }

  it("renders again when a second kustomization file appears in a directory it reads (kustomize refuses that)", async () => {
    expect((await cachedRender()).output).toContain("replicas: 2");
    await writeFile(join(root, "base", "Kustomization"), TREE["base/kustomization.yaml"]!);
    try {
      await expect(cachedRender()).rejects.toThrow(/kustomize build .* failed/);
    } finally {
      await rm(join(root, "base", "Kustomization"));
    }
  });

  it("a failed render is not cached; once the missing patch exists it renders", async () => {
    await writeFile(join(root, "overlays/dev/kustomization.yaml"), TREE["overlays/dev/kustomization.yaml"]!.replace("replicas.yaml", "patches/scale.yaml"));
    try {
      await expect(cachedRender()).rejects.toThrow(/kustomize build .* failed/);
      await mkdir(join(root, "overlays/dev/patches"), { recursive: true });
      await writeFile(join(root, "overlays/dev/patches/scale.yaml"), TREE["overlays/dev/replicas.yaml"]!.replace("replicas: 2", "replicas: 4"));
      const next = await cachedRender();
      expect(next.output).toContain("replicas: 4");
      expect(next.cache.stats.hits).toBe(0);
    } finally {
      await writeFile(join(root, "overlays/dev/kustomization.yaml"), TREE["overlays/dev/kustomization.yaml"]!);
      await rm(join(root, "overlays/dev/patches"), { recursive: true, force: true });
    }
  });

  it("is keyed on the kustomize version: an entry of another version is not used", async () => {
    await rm(join(root, CACHE_DIR), { recursive: true, force: true });
    const { cache } = await cachedRender();
    const [name] = await entries();
    const file = join(root, CACHE_DIR, name!);
    const entry = decoded(await readFile(file, "utf8"));
    await writeFile(file, encodeEntry({ ...entry, kustomize: "v5.0.0-foreign" }));
    const next = await cachedRender();
    expect(next.cache.stats).toMatchObject({ hits: 0, rejected: 1, writes: 1 });
    expect(next.output).toBe(await render(overlay(), { root }));
    expect(cache.stats.writes + next.cache.stats.writes).toBeGreaterThan(0);
  });
});

describe("render cache: a bad entry is ignored, never fatal, never trusted", () => {
  let truth: string;
  beforeAll(async () => {
    await rm(join(root, ".cache"), { recursive: true, force: true });
    await writeTree(TREE);
    truth = await render(overlay(), { root });
  });

  const corruptions: [string, (text: string) => string][] = [
    ["truncated", (t) => t.slice(0, Math.floor(t.length / 2))],
    ["empty", () => ""],
    ["not JSON", () => "\u0000\u0001garbage"],
    ["JSON of another shape", () => "[1,2,3]"],
    ["with a header that is not JSON", (t) => `{${t}`],
    ["with an output length beyond its end", (t) => t.replace(/"outputLength":\d+/, '"outputLength":99999999')],
    ["of another format", (t) => encodeEntry({ ...decoded(t), format: 999 })],
    ["with output that does not match its digest", (t) => {
      const e = decoded(t);
      return encodeEntry({ ...e, output: e.output.replace("replicas: 2", "replicas: 9") });
    }],
    ["with objects that do not match its digest", (t) => {
      const e = decoded(t);
      return encodeEntry({ ...e, objects: e.objects.replace('"replicas":2', '"replicas":9') });
    }],
    ["with objects that are not JSON (digest recomputed)", (t) => {
      const e = decoded(t);
      return encodeEntry({ ...e, objects: "{not json", sha256: entryDigest(e.output, "{not json") });
    }],
    ["recording another key (an entry copied under this name)", (t) => encodeEntry({ ...decoded(t), key: "0".repeat(64) })],
  ];
  for (const [what, corrupt] of corruptions) {
    it(`an entry ${what}: re-rendered and rewritten`, async () => {
      await cachedRender();
      const [name] = await entries();
      const file = join(root, CACHE_DIR, name!);
      await writeFile(file, corrupt(await readFile(file, "utf8")));
      const next = await cachedRender();
      expect(next.output).toBe(truth);
      expect(next.cache.stats.hits).toBe(0);
      expect(next.cache.stats.writes).toBe(1);
      // Rewritten: the next run takes it.
      expect((await cachedRender()).cache.stats.hits).toBe(1);
    });
  }

  it("a cache directory that is a symlink elsewhere is not used", async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), "gitops-render-cache-elsewhere-"));
    try {
      await rm(join(root, ".cache"), { recursive: true, force: true });
      await mkdir(join(root, ".cache"));
      const { symlink } = await import("node:fs/promises");
      await symlink(elsewhere, join(root, CACHE_DIR));
      const { output, cache } = await cachedRender();
      expect(cache.enabled).toBe(false);
      expect(cache.refused).toMatch(/symlink/);
      expect(output).toBe(truth);
      expect(await readdir(elsewhere)).toEqual([]);
    } finally {
      await rm(join(root, ".cache"), { recursive: true, force: true });
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});

// The hostile case end to end: a pull request changes a base resource so that it breaks a
// rule, and commits a forged entry (the right key, the old harmless output, a matching digest).
describe("render cache: pull-request content cannot hide a finding", () => {
  const newRepo = testRepos();
  let repo: TestRepo;
  let deployment: string;

  const findings = (stdout: string) => (JSON.parse(stdout) as { findings: { rule: string; path: string; message: string }[] }).findings;

  beforeAll(async () => {
    repo = await newRepo();
    // Any Deployment of the base (found by content, not by name).
    const files = (await repo.git("ls-files", "base")).split("\n").filter((f) => /\.ya?ml$/.test(f));
    for (const f of files) if (/^kind: Deployment$/m.test(await repo.read(f))) deployment ??= f;
    expect(deployment).toBeDefined();
  });

  it("a changed input after a warm run is found; a committed forged entry is refused and reported", { timeout: 300_000 }, async () => {
    const clean = await repo.cli(["check", "--json"]);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    const warmEntries = (await readdir(join(repo.root, CACHE_DIR))).filter((n) => n.endsWith(ENTRY_SUFFIX));
    expect(warmEntries.length).toBeGreaterThan(0);

    // The change: a privileged container in the base.
    const doc = parseDocument(await repo.read(deployment));
    doc.setIn(["spec", "template", "spec", "containers", 0, "securityContext", "privileged"], true);
    await repo.write(deployment, doc.toString());
    const changed = await repo.cli(["check", "--json"]);
    expect(changed.code).toBe(1);
    expect(findings(changed.stdout).some((f) => f.rule === "policy/security" && /privileged/.test(f.message))).toBe(true);

    // Forge: every entry this run wrote (the bad renders) gets the clean output of its overlay.
    const cleanEntries = new Map<string, EntryParts>();
    for (const name of warmEntries) {
      const e = decoded(await readFile(join(repo.root, CACHE_DIR, name), "utf8"));
      cleanEntries.set(e.overlay, e);
    }
    const forged: string[] = [];
    for (const name of (await readdir(join(repo.root, CACHE_DIR))).filter((n) => n.endsWith(ENTRY_SUFFIX) && !warmEntries.includes(n))) {
      const file = join(repo.root, CACHE_DIR, name);
      const e = decoded(await readFile(file, "utf8"));
      const { output, objects } = cleanEntries.get(e.overlay)!;
      await writeFile(file, encodeEntry({ ...e, output, objects, sha256: entryDigest(output, objects) }));
      forged.push(`${CACHE_DIR}/${name}`);
    }
    expect(forged.length).toBeGreaterThan(0);
    // The control: left untracked on this machine, the forgery would be served (the cache
    // trusts its own disk), so the refusal below is what keeps the finding.
    const served = await repo.cli(["check", "--json"]);
    expect(served.code).toBe(0);

    // Committed, as a pull request would (past .cache/.gitignore with -f).
    await repo.git("add", "-f", "--", ...forged);
    await repo.git("commit", "-q", "-m", "a pull request with a render cache");
    const refused = await repo.cli(["check", "--json"]);
    expect(refused.code).toBe(1);
    const got = findings(refused.stdout);
    expect(got.some((f) => f.rule === "policy/security" && /privileged/.test(f.message))).toBe(true);
    expect(got.find((f) => f.rule === "render/cache-committed")?.message).toMatch(/committed: render cache entries are never read from git/);
    // diff does not read it either.
    const diff = await repo.cli(["diff", "--base", "HEAD~1"]);
    expect(diff.stderr).toMatch(/render cache off/);
    expect(diff.stdout).toMatch(/privileged: true/);
  });
});

describe("the walk's memo (one per run: shared bases are read once)", () => {
  it("gives every overlay exactly what a walk without it gives, problems included", async () => {
    const { SourceMemo, walkSources } = await import("../tools/render/sources.ts");
    const { symlink } = await import("node:fs/promises");
    const tree = await mkdtemp(join(tmpdir(), "gitops-walk-memo-"));
    try {
      const files: Record<string, string> = {
        ...TREE,
        // A second overlay sharing the base and the component, one with a remote resource and a
        // missing patch, one reaching the base through another overlay.
        "overlays/prod/kustomization.yaml": `namespace: prod\nresources:\n  - ../../base\n  - https://example.com/x.yaml\ncomponents:\n  - ../../components/tuning\npatches:\n  - path: absent.yaml\n`,
        "overlays/stacked/kustomization.yaml": `resources:\n  - ../dev\n  - ../prod\n`,
      };
      for (const [path, text] of Object.entries(files)) {
        await mkdir(join(tree, path, ".."), { recursive: true });
        await writeFile(join(tree, path), text);
      }
      await symlink("/etc", join(tree, "base", "outside"));
      await writeFile(join(tree, "overlays/dev/kustomization.yaml"), `${files["overlays/dev/kustomization.yaml"]}  - path: ../../base/outside/hostname\n`);
      const plain = (m: ReturnType<typeof walkSources>) => ({ problems: m.problems, files: [...m.inputs.files].sort(), dirs: [...m.inputs.dirs].sort(), missing: [...m.inputs.missing].sort(), complete: m.inputs.complete });
      const memo = new SourceMemo();
      for (const dir of ["overlays/dev", "overlays/prod", "overlays/stacked", "overlays/dev"]) {
        const alone = plain(walkSources(tree, join(tree, dir)));
        expect(plain(walkSources(tree, join(tree, dir), memo))).toEqual(alone);
        if (dir === "overlays/stacked") expect([...new Set(alone.problems.map((p) => p.rule))].sort()).toEqual(["render/outside-repository", "render/remote-resource"]);
      }
      // The base's kustomization was read once for the four walks.
      expect([...memo.dirs.keys()].filter((d) => d.endsWith("/base"))).toHaveLength(1);
    } finally {
      await rm(tree, { recursive: true, force: true });
    }
  });
});

describe("pruning", () => {
  it("removes entries unused for two weeks, stale temp files and first-format entries, and keeps the rest", async () => {
    const { utimes } = await import("node:fs/promises");
    await rm(join(root, ".cache"), { recursive: true, force: true });
    await writeTree(TREE);
    await cachedRender();
    const [fresh] = await entries();
    expect(fresh).toBeDefined();
    const dir = join(root, CACHE_DIR);
    const day = 24 * 3600 * 1000;
    const old = `${"a".repeat(64)}${ENTRY_SUFFIX}`;
    const legacy = `${"b".repeat(64)}.json`;
    const staleTemp = `${old}.123.abcdef01.tmp`;
    const newTemp = `${old}.456.abcdef02.tmp`;
    const unrelated = "notes.txt";
    for (const name of [old, legacy, staleTemp, newTemp, unrelated]) await writeFile(join(dir, name), "x");
    const ago = (ms: number) => new Date(Date.now() - ms);
    await utimes(join(dir, old), ago(15 * day), ago(15 * day));
    await utimes(join(dir, staleTemp), ago(2 * 3600 * 1000), ago(2 * 3600 * 1000));
    await utimes(join(dir, unrelated), ago(30 * day), ago(30 * day));
    const cache = await RenderCache.forRepository(root);
    expect(await cache.prune()).toBe(3);
    expect((await readdir(dir)).sort()).toEqual([fresh!, newTemp, unrelated].sort());
    // A hit still finds the entry that was kept.
    expect((await cachedRender()).cache.stats.hits).toBe(1);
  });
});
