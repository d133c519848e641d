// tools/generate/emit.ts: generate's documents are emitted by `yaml` and remembered by content
// (in the process, and across runs beside the render cache). What is remembered must be what
// `yaml` writes for that very value, quoting and anchors included; the drift check must still see
// any byte of difference between a generated file and the plan, however the plan was emitted.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Scalar, stringify } from "yaml";
import { planChanges } from "../tools/generate/apply.ts";
import { canonicalForm, EMIT_CACHE_FILE, emitCachePath, Emitter, forgetEmitted, readEmitCache } from "../tools/generate/emit.ts";
import { RenderCache } from "../tools/render/cache.ts";
import { loadSpec } from "../tools/spec/load.ts";
import { FIXTURES } from "./support/repo.ts";

/** What generate wrote before documents were remembered (plan.ts). */
const direct = (value: unknown) => stringify(value, { lineWidth: 0, indentSeq: true });

const quoted = (value: string) => Object.assign(new Scalar(value), { type: Scalar.QUOTE_DOUBLE });

/** Every shape of value generate emits, and the ones a spec can put in them. */
function shapes(): unknown[] {
  const strings = ["plain", "yes", "on", "No", "y", "1.0", "1", "0o17", "0x1F", "1_000", "1e3", "1:20", ".inf", "true", "null", "~", "", " lead", "trail ", "a: b", "a #b", "#c", "- x", "[x]", "{x}", "*a", "&a", "!t", "%p", "@at", "`b", "'s'", '"d"', "it's", 'say "hi"', "a\nb", "a\n\nb\n", "end\n", "  indented\nblock", "tab\there", "é ü 日本", "\u0007bell", "x".repeat(300)];
  const out: unknown[] = [];
  for (const s of strings) {
    out.push({ key: s }, [s], { [s]: "value" }, { outer: { list: [s, { inner: s }] } }, { tag: quoted(s) }, [{ name: "web", newTag: quoted(s) }]);
  }
  out.push(
    {},
    [],
    { empty: {}, none: [], nested: { list: [{}, []] } },
    { n: 1, f: 1.5, neg: -2, big: 12345678901234, t: true, f2: false, nil: null },
    { undef: undefined, kept: "x" },
    [1, "1", true, "true", null, "null"],
    { "app.kubernetes.io/part-of": "ringlet", "ringlet.wave": "0", "": "empty key" },
    { ops: [{ op: "test", path: "/spec/rules/0/host", value: "a.example" }, { op: "replace", path: "/spec/rules/0/host", value: "b.example" }] },
  );
  // The same object twice: `yaml` writes an anchor and an alias.
  const shared = { requests: { cpu: "100m" } };
  out.push({ a: shared, b: shared });
  return out;
}

describe("the document emitter", () => {
  it("writes what yaml writes for every shape generate emits, emitted and remembered", () => {
    const values = shapes();
    const first = new Emitter();
    for (const value of values) expect(first.yaml(value)).toBe(direct(value));
    // Equal values (new objects): answered from memory, still byte for byte what yaml writes.
    const again = new Emitter();
    for (const value of structuredClone(values.filter((v) => canonicalForm(v) !== undefined)) as unknown[]) {
      // structuredClone turns a Scalar into a plain object: rebuild those.
      const revive = (v: unknown): unknown =>
        v && typeof v === "object" && "type" in v && "value" in v && Object.keys(v).length === 2
          ? quoted((v as { value: string }).value)
          : Array.isArray(v)
            ? v.map(revive)
            : v && typeof v === "object"
              ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]))
              : v;
      const revived = revive(value);
      expect(again.yaml(revived)).toBe(direct(revived));
    }
    expect(again.hits).toBeGreaterThan(100);
  });

  it("tells apart values yaml writes differently: quoting, types, shared objects", () => {
    const emitter = new Emitter();
    const pairs: [unknown, unknown][] = [
      [{ tag: "yes" }, { tag: quoted("yes") }],
      [{ n: 1 }, { n: "1" }],
      [{ b: true }, { b: "true" }],
      [[quoted("a"), "b"], ["a", quoted("b")]],
    ];
    for (const [a, b] of pairs) {
      expect(direct(a)).not.toBe(direct(b));
      expect(emitter.yaml(a)).toBe(direct(a));
      expect(emitter.yaml(b)).toBe(direct(b));
      expect(emitter.yaml(a)).toBe(direct(a));
    }
    const shared = { cpu: "1" };
    const aliased = { a: shared, b: shared };
    const copies = { a: { cpu: "1" }, b: { cpu: "1" } };
    expect(direct(aliased)).toContain("*a1");
    expect(emitter.yaml(copies)).toBe(direct(copies));
    expect(emitter.yaml(aliased)).toBe(direct(aliased));
    expect(canonicalForm(aliased)).toBeUndefined();
    expect(canonicalForm([undefined])).toBeUndefined();
    expect(canonicalForm({ n: -0 })).toBeUndefined();
    expect(canonicalForm({ d: new Date(0) })).toBeUndefined();
  });
});

describe("the drift check with remembered documents", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const copy = () => {
    const dir = mkdtempSync(join(tmpdir(), "emit-"));
    dirs.push(dir);
    cpSync(join(FIXTURES, "ringlet-snapshot"), dir, { recursive: true });
    return dir;
  };
  const plan = async (root: string, cache: RenderCache) => planChanges(root, await loadSpec(join(root, "overlays", "environments.yaml"), root), { cache, toolFiles: false });

  it("reports a changed comment, trailing whitespace, a blank line and reordered keys, from a warm cache", async () => {
    const root = copy();
    const cache = RenderCache.open(root, []);
    expect((await plan(root, cache)).changes).toEqual([]);
    expect(existsSync(join(root, EMIT_CACHE_FILE))).toBe(true);
    const edits: [string, (t: string) => string][] = [
      ["argocd/dev.yaml", (t) => t.replace("# Synced automatically", "# Synced  automatically")],
      ["overlays/dev/kustomization.yaml", (t) => t.replace("kind: Kustomization\n", "kind: Kustomization \n")],
      ["overlays/prod/kustomization.yaml", (t) => `${t}\n`],
      ["argocd/project.yaml", (t) => t.replace(/^(apiVersion: .*\n)(kind: .*\n)/m, "$2$1")],
    ];
    for (const [file, edit] of edits) {
      const path = join(root, file);
      const before = readFileSync(path, "utf8");
      const after = edit(before);
      expect(after, file).not.toBe(before);
      writeFileSync(path, after);
      const { changes } = await plan(root, RenderCache.open(root, []));
      expect(changes.map((c) => [c.path, c.before, c.after]), file).toEqual([[file, after, before]]);
      writeFileSync(path, before);
    }
    expect((await plan(root, cache)).changes).toEqual([]);
  });

  it("reads remembered documents only where the render cache is trusted, and only when the file is intact", async () => {
    const root = copy();
    await plan(root, RenderCache.open(root, []));
    const file = join(root, EMIT_CACHE_FILE);
    const [header, body] = [readFileSync(file, "utf8").split("\n")[0]!, readFileSync(file, "utf8").slice(readFileSync(file, "utf8").indexOf("\n") + 1)];
    expect(readEmitCache(emitCachePath(root, true)).size).toBeGreaterThan(10);
    // Refused (something under .cache/ is committed): never read.
    expect(emitCachePath(root, false)).toBeUndefined();
    // A forged entry (every document emitted as "forged\n", the digest made to match) shows what
    // a trusted file decides; so a committed one must never be read.
    const entries = (JSON.parse(body) as [string, string][]).map(([k]) => [k, "forged\n"]);
    const forgedBody = JSON.stringify(entries);
    const { createHash } = await import("node:crypto");
    const digest = createHash("sha256").update(forgedBody).digest("hex");
    writeFileSync(file, `${JSON.stringify({ ...(JSON.parse(header) as object), sha256: digest })}\n${forgedBody}`);
    forgetEmitted(); // what this process emitted itself would be answered first
    expect((await plan(root, RenderCache.open(root, [".cache/generate/yaml.json"]))).changes).toEqual([]);
    forgetEmitted();
    expect((await plan(root, RenderCache.open(root, []))).changes.length).toBeGreaterThan(0);
    // Tampered without the digest: ignored.
    writeFileSync(file, `${header}\n${forgedBody}`);
    forgetEmitted();
    expect((await plan(root, RenderCache.open(root, []))).changes).toEqual([]);
  });
});
