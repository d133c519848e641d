// Adoption (issue 10.10): the spec's JSON Schema and reference are generated from the zod schema,
// kept in sync by `pnpm generate` and drift-checked by `pnpm check`; the spec announces the schema
// to editors; spec errors say what was meant (did-you-mean), echo the bad value and carry file:line
// in every command that loads the spec, every problem in one pass.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { closest } from "../tools/core/errors.ts";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { parseYaml } from "../tools/core/yaml.ts";
import { planChanges } from "../tools/generate/apply.ts";
import { parseSpec } from "../tools/spec/load.ts";
import { REFERENCE_FILE, SCHEMA_FILE, SCHEMA_MODELINE, specJsonSchema, specJsonSchemaText, specReference } from "../tools/spec/reference.ts";
import { FIXTURE_ROOT, testRepos, type TestRepo } from "./support/repo.ts";

const newRepo = testRepos();
const SPEC = "overlays/environments.yaml";
const fixtureSpec = readFileSync(join(FIXTURE_ROOT, SPEC), "utf8");

type Validate = ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string; params: Record<string, unknown> }[] | null };
function validator(): Validate {
  const mod = createRequire(import.meta.url)("ajv") as { default?: unknown };
  const Ajv = (mod.default ?? mod) as new (o: object) => { compile(s: object): Validate };
  return new Ajv({ allErrors: true, strict: false, validateFormats: false }).compile(specJsonSchema());
}

/** 1-based line of the only line equal to `line` (trimmed) in `text`. */
function lineOf(text: string, line: string): number {
  const found = text.split("\n").flatMap((l, i) => (l.trim() === line.trim() ? [i + 1] : []));
  if (found.length !== 1) throw new Error(`${JSON.stringify(line)} occurs ${found.length} times`);
  return found[0]!;
}

describe("the spec's JSON Schema", () => {
  it("accepts the repository's spec and the fixture's, and rejects a misspelt key and a value outside an enum", () => {
    const validate = validator();
    for (const file of [join(TOOLS_ROOT, SPEC), join(FIXTURE_ROOT, SPEC)]) {
      expect(validate(parseYaml(readFileSync(file, "utf8"), file)), JSON.stringify(validate.errors)).toBe(true);
    }
    const broken = parseYaml(fixtureSpec.replace("    host: dev.ringlet.example.com\n", "    hsot: dev.ringlet.example.com\n").replace("    sync: auto\n", "    sync: automatic\n"), SPEC);
    expect(validate(broken)).toBe(false);
    const errors = validate.errors!.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
    expect(errors.some((e) => e.startsWith("/environments/dev ") && e.includes('"additionalProperty":"hsot"'))).toBe(true);
    expect(errors.some((e) => e.startsWith("/environments/dev/sync "))).toBe(true);
  });

  it("is the committed file, announced on the spec's first line with a path that resolves to it", () => {
    expect(readFileSync(join(TOOLS_ROOT, SCHEMA_FILE), "utf8")).toBe(specJsonSchemaText());
    const first = readFileSync(join(TOOLS_ROOT, SPEC), "utf8").split("\n")[0]!;
    expect(first).toBe(SCHEMA_MODELINE);
    const target = /\$schema=(\S+)$/.exec(first)![1]!;
    expect(join(dirname(join(TOOLS_ROOT, SPEC)), target)).toBe(join(TOOLS_ROOT, SCHEMA_FILE));
  });

  it("the reference lists every field the schema describes, with its description", () => {
    const reference = readFileSync(join(TOOLS_ROOT, REFERENCE_FILE), "utf8");
    expect(reference).toBe(specReference());
    const schema = specJsonSchema() as { properties: Record<string, { description?: string }> };
    for (const [key, field] of Object.entries(schema.properties)) {
      expect(reference, key).toContain(`| \`${key}\` |`);
      if (field.description) expect(reference).toContain(field.description);
    }
    expect(reference).toContain("| `environments.<env>.namespace` | string | yes |");
  });

  it("generate writes both into the tools' checkout only, and a stale one is drift", async () => {
    const repo = await newRepo();
    const spec = parseSpec(await repo.read(SPEC), SPEC);
    // A fixture repository under --root holds an application, not the tools: nothing of theirs is planned.
    expect((await planChanges(repo.root, spec)).files.map((f) => f.path)).not.toContain(SCHEMA_FILE);
    await repo.write(SCHEMA_FILE, specJsonSchemaText().replace('"type": "object"', '"type": "array"'));
    await repo.write(REFERENCE_FILE, specReference());
    const { changes } = await planChanges(repo.root, spec, { toolFiles: true });
    expect(changes.map((c) => c.path)).toEqual([SCHEMA_FILE]);
  });
});

describe("spec errors", () => {
  it("closest: a typo, a case slip and a transposition find their name; something unrelated finds none", () => {
    expect(closest("hsot", ["namespace", "host", "hosts"])).toBe("host");
    expect(closest("Staging", ["dev", "staging", "prod"])).toBe("staging");
    expect(closest("stagign", ["dev", "staging", "prod"])).toBe("staging");
    expect(closest("qa", ["dev", "staging", "prod"])).toBeUndefined();
  });

  /** Four mistakes at once: a misspelt key, a bad namespace, an enum typo, a missing key. */
  const broken = fixtureSpec
    .replace("    host: dev.ringlet.example.com\n", "    hsot: dev.ringlet.example.com\n")
    .replace("    namespace: ringlet-staging\n", "    namespace: Ringlet_Staging\n")
    .replace("    sync: auto\n", "    sync: autom\n")
    .replace("    sync: manual\n", "");
  // check names each finding's rule after the line (`spec/invalid: `); the other commands do not.
  const at = (line: string) => `${SPEC.replace(/\./g, "\\.")}:${lineOf(broken, line)}: (?:spec/invalid: )?`;
  const esc = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const expected = [
    new RegExp(`${at("hsot: dev.ringlet.example.com")}${esc('environments.dev.hsot: unknown key "hsot" (did you mean "host"?)')}`),
    new RegExp(`${at("namespace: Ringlet_Staging")}${esc("environments.staging.namespace: must be a DNS label")}.*${esc('; got "Ringlet_Staging"')}`),
    new RegExp(`${at("sync: autom")}${esc('environments.dev.sync: Invalid option: expected one of "auto"|"manual"; got "autom" (did you mean "auto"?)')}`),
    new RegExp(`${SPEC.replace(/\./g, "\\.")}:\\d+: (?:spec/invalid: )?${esc('environments.prod.sync: missing: required here (expected one of "auto", "manual")')}`),
  ];

  async function withBrokenSpec(): Promise<TestRepo> {
    const repo = await newRepo();
    await repo.write(SPEC, broken);
    await repo.git("commit", "--quiet", "-am", "a broken spec");
    return repo;
  }

  it.each([
    ["generate", ["generate"]],
    ["check", ["check"]],
    ["render", ["render", "dev"]],
    ["plan", ["plan", "dev"]],
    ["status", ["status"]],
    ["history", ["history", "dev"]],
    ["diff", ["diff"]],
    ["bump-image", ["bump-image", "v1.0.1", "--dry-run"]],
    ["promote", ["promote", "staging", "--dry-run"]],
    ["rollback", ["rollback", "dev", "--dry-run"]],
  ])("%s names every problem with file:line, in one pass, and changes nothing", async (_, args) => {
    const repo = await withBrokenSpec();
    const before = await repo.state();
    const r = await repo.cli(args);
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    for (const pattern of expected) expect(r.stdout + r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/);
    expect(await repo.state()).toEqual(before);
  });

  it("names that match nothing (a component, a layer) get the name they most likely meant, both in one pass", async () => {
    const repo = await newRepo();
    const text = fixtureSpec.replace(/^( {6})web:\n( {8}replicas: \{ min: 1, max: 2 \})/m, "$1webb:\n$2").replace("configMap: { layer: app, name: ringlet-config }", "configMap: { layer: ap, name: ringlet-config }");
    expect(text).not.toBe(fixtureSpec);
    await repo.write(SPEC, text);
    const r = await repo.cli(["generate", "--dry-run"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${SPEC}:${lineOf(text, "webb:")}: environments.dev.components.webb: unknown component "webb" (did you mean "web"?); declared components: web, worker, beat, migrate`);
    expect(r.stderr).toContain(`${SPEC}:${lineOf(text, "configMap: { layer: ap, name: ringlet-config }")}: configMap.layer: unknown layer "ap" (did you mean "app"?); layers: data, app`);
  });

  it("an unknown environment or image on the command line gets its nearest name too", async () => {
    const repo = await newRepo();
    const env = await repo.cli(["render", "stagign"]);
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('unknown environment "stagign" (did you mean "staging"?); environments: dev, staging, prod');
    const image = await repo.cli(["bump-image", "v1.0.1", "--dry-run", "--image", "ghcr.io/ringlet/ringlt"]);
    expect(image.code).toBe(2);
    expect(image.stderr).toContain('unknown image "ghcr.io/ringlet/ringlt" (did you mean "ghcr.io/ringlet/ringlet"?)');
  });
});
