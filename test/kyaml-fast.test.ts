// The fast path for kustomize's output (tools/core/kyaml-fast.ts) against the reference, the
// `yaml` package: on every render of this repository, on a hand-written corpus of tricky scalars
// sent through the real kustomize and checked as written, on random objects round-tripped
// through kustomize, on hand-written documents, and on mutated (mostly invalid) documents, where
// whatever the fast path accepts must be valid YAML with the very same value.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "../tools/core/errors.ts";
import {
  isKyamlUnsupported,
  kyamlDocumentText,
  parseKyamlDocument,
  parseKyamlStream,
  splitKyamlStream,
  type KyamlStream,
} from "../tools/core/kyaml-fast.ts";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { parseYaml, parseYamlDocument, parseYamlStream, parseYamlStreamFull } from "../tools/core/yaml.ts";

const exec = promisify(execFile);
const KUBECTL = join(TOOLS_ROOT, ".tools", "kubectl");

async function kustomize(dir: string): Promise<string> {
  const { stdout } = await exec(KUBECTL, ["kustomize", dir], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** The reference: every document through `yaml`, nulls (empty documents) dropped. */
function reference(text: string): unknown[] {
  return parseAllDocuments(text)
    .map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS() as unknown;
    })
    .filter((v) => v !== null);
}

type Outcome = { accepted: true; value: unknown } | { accepted: false };

function fast(stream: KyamlStream, start: number, end: number): Outcome {
  try {
    return { accepted: true, value: parseKyamlDocument(stream, start, end) };
  } catch (error) {
    if (isKyamlUnsupported(error)) return { accepted: false };
    throw error;
  }
}

/** Every document of a kustomize output takes the fast path and equals `yaml`'s value. */
function expectAllFast(text: string, label: string): number {
  const stream = splitKyamlStream(text);
  expect(stream, `${label}: stream declined`).toBeDefined();
  let count = 0;
  for (const [start, end] of stream!.docs) {
    const doc = kyamlDocumentText(stream!, start, end);
    const outcome = fast(stream!, start, end);
    expect(outcome.accepted, `${label}: declined\n${doc}`).toBe(true);
    if (outcome.accepted) expect(outcome.value, `${label}\n${doc}`).toStrictEqual(parse(doc) ?? null);
    count++;
  }
  expect(parseYamlStream(text, label)).toStrictEqual(reference(text));
  return count;
}

/** For a document the fast path must accept, alone (no kustomize involved). */
function expectSame(yamlText: string): void {
  expect(parseKyamlStream(yamlText), yamlText).toStrictEqual(reference(yamlText));
}

function expectDeclined(yamlText: string): void {
  const stream = splitKyamlStream(yamlText);
  const declined = !stream || stream.docs.some(([s, e]) => !fast(stream, s, e).accepted);
  expect(declined, `should be declined:\n${yamlText}`).toBe(true);
}

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "ringlet-kyaml-fast-"));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe("this repository's renders", () => {
  const spec = parse(readFileSync(join(TOOLS_ROOT, "overlays", "environments.yaml"), "utf8")) as { environments: Record<string, unknown> };
  const dirs = Object.keys(spec.environments).flatMap((env) => [`overlays/${env}`, `overlays/${env}/data`]);

  it.each(dirs)("%s: every document takes the fast path, with yaml's value", async (dir) => {
    const text = await kustomize(join(TOOLS_ROOT, dir));
    expect(expectAllFast(text, dir)).toBeGreaterThan(0);
  });

  it("base/app and base/data too", async () => {
    for (const dir of ["base/app", "base/data"]) expectAllFast(await kustomize(join(TOOLS_ROOT, dir)), dir);
  });

  it("the argocd/ files (yaml's own stringify, comments) take the fast path", async () => {
    for (const name of ["project.yaml", "dev.yaml", "kustomization.yaml"]) {
      const text = await readFile(join(TOOLS_ROOT, "argocd", name), "utf8");
      expect(parseKyamlStream(text)).toStrictEqual(reference(text));
    }
  });
});

// Strings kustomize must keep exactly, each chosen to need quoting, escaping, wrapping or a
// block scalar in its output.
const TRICKY: Record<string, string> = {
  octal: "0755",
  exponent: "1e3",
  float: "3.14",
  hex: "0x1F",
  oct: "0o17",
  inf: ".inf",
  nan: ".nan",
  negative: "-12",
  plus: "+12",
  bool: "true",
  yes: "yes",
  on: "on",
  tilde: "~",
  nullWord: "null",
  empty: "",
  colonSpace: "a: b",
  colonEnd: "a:",
  colonStart: ":a",
  hash: "#x",
  spaceHash: "a #b",
  dashSpace: "- x",
  dashOnly: "-",
  question: "? x",
  questionWord: "?x",
  star: "*ref",
  amp: "&anchor",
  bang: "!tag",
  percent: "%x",
  at: "@x",
  backtick: "`x",
  braces: "{a}",
  brackets: "[a]",
  comma: "a, b",
  pipe: "|",
  gt: ">",
  quoteSingle: "it's",
  quoteDouble: 'say "hi"',
  backslash: "back\\slash",
  unicode: "héllo wörld ✓ 😀 日本語",
  nbsp: "a\u00a0b",
  bom: "\ufeffa",
  tab: "a\tb",
  tabOnly: "\t",
  escapes: 'tab\there\nnewline "q" back\\slash',
  leadingSpace: " a",
  trailingSpace: "a ",
  spacesOnly: "   ",
  date: "2001-12-14",
  long: "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.",
  longNoSpace: "x".repeat(200),
  longQuoted: "Lorem 'ipsum' dolor sit amet, consectetur: adipiscing elit, sed do eiusmod tempor #incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.",
  longEscaped: `${"word ".repeat(30)}\u0007 bell and a tab\t${" more".repeat(20)}`,
  block: "line one\nline two\n",
  blockStrip: "line one\nline two",
  blockKeep: "line one\nline two\n\n\n",
  blockLeadingSpaces: "  leading spaces\nsecond\n",
  blockLeadingNewline: "\na",
  blockOnlyNewline: "\n",
  blockMoreIndented: "a\n  b\n",
  blockSpacesLine: "a\n   \nb\n",
  blockTrailingSpaces: "a \nb",
  blockCrlf: "a\r\nb",
  blockTabs: "a\tb\nc\td\n",
  blockManyBlank: "a\n\n\n\nb\n",
  blockHashLines: "# not a comment\n  # indented\n",
  blockDashLines: "- not a list\n---\n...\n",
  json: '{"a": [1, 2], "b": {"c": null}}',
};

describe("tricky values through the real kustomize", () => {
  let output = "";
  beforeAll(async () => {
    const dir = join(workDir, "tricky");
    await mkdir(dir, { recursive: true });
    const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "tricky", annotations: { "a.b/c": "x", "example.com/quoted": "'q'" } }, data: TRICKY };
    const keys = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "keys" },
      data: { "a.b": "1", "a/b": "2", '"q"': "3", "'s'": "4", "1": "5", true: "6", "- k": "7", "#k": "8", "k: v": "9", " lead": "10", "null": "11", "~": "12", "😀": "13" },
    };
    const shapes = {
      apiVersion: "example.com/v1",
      kind: "Shapes",
      metadata: { name: "shapes" },
      spec: {
        emptyMap: {},
        emptyList: [],
        nested: [[1, 2], [], [["a"]], { x: 1 }, [{}], [[]]],
        listOfMaps: [{ a: 1, b: ["x"] }, {}, { c: { d: [null, true, false] } }],
        numbers: [0, -1, 1000, 1.5, -0.25, 12345678901234, 1e21, 0.1],
        nullValue: null,
        deep: { a: { b: { c: { d: { e: [{ f: "g", h: ["i", { j: "k" }] }] } } } } },
      },
    };
    const json = (v: unknown) =>
      JSON.stringify(v).replace(/[\ud800-\udbff][\udc00-\udfff]|[\u007f-\uffff]/g, (c) => {
        const cp = c.codePointAt(0)!;
        return cp > 0xffff ? `\\U${cp.toString(16).padStart(8, "0")}` : `\\u${cp.toString(16).padStart(4, "0")}`;
      });
    await writeFile(join(dir, "tricky.json"), json(configMap));
    await writeFile(join(dir, "keys.json"), json(keys));
    await writeFile(join(dir, "shapes.json"), json(shapes));
    await writeFile(join(dir, "script.sh"), '#!/bin/sh\necho "hi"\n\tindented with a tab\n   \ntrailing   \n');
    await writeFile(join(dir, "settings.py"), "DEBUG = False\nALLOWED = ['a', 'b']\n\n\n# comment\nX = {'k': 1}\n");
    await writeFile(
      join(dir, "kustomization.yaml"),
      [
        "resources:",
        "- tricky.json",
        "- keys.json",
        "- shapes.json",
        "configMapGenerator:",
        "- name: generated",
        "  literals:",
        "  - OCTAL=0755",
        "  - BOOL=true",
        "  - WORDS=multi word value",
        "  - EMPTY=",
        "  - 'COLON=a: b'",
        "  files:",
        "  - script.sh",
        "  - settings.py",
        "",
      ].join("\n"),
    );
    output = await kustomize(dir);
  });

  it("every document takes the fast path, with yaml's value", () => {
    expect(expectAllFast(output, "tricky")).toBe(4);
  });

  it("and the values are the ones written (kustomize kept them, the parser read them)", () => {
    const objects = parseYamlStream(output, "tricky");
    const byName = (name: string) => objects.find((o) => o.metadata?.name === name || o.metadata?.name?.startsWith(`${name}-`))!;
    expect(byName("tricky").data).toStrictEqual(TRICKY);
    expect(byName("keys").data).toMatchObject({ "a.b": "1", "a/b": "2", '"q"': "3", "'s'": "4", "1": "5", true: "6", "- k": "7", "#k": "8", "k: v": "9", " lead": "10", null: "11", "~": "12", "😀": "13" });
    expect((byName("shapes") as { spec: unknown }).spec).toStrictEqual({
      emptyMap: {},
      emptyList: [],
      nested: [[1, 2], [], [["a"]], { x: 1 }, [{}], [[]]],
      listOfMaps: [{ a: 1, b: ["x"] }, {}, { c: { d: [null, true, false] } }],
      numbers: [0, -1, 1000, 1.5, -0.25, 12345678901234, 1e21, 0.1],
      nullValue: null,
      deep: { a: { b: { c: { d: { e: [{ f: "g", h: ["i", { j: "k" }] }] } } } } },
    });
    const generated = byName("generated").data as Record<string, string>;
    expect(generated).toMatchObject({ OCTAL: "0755", BOOL: "true", WORDS: "multi word value", EMPTY: "", COLON: "a: b" });
    expect(generated["script.sh"]).toBe('#!/bin/sh\necho "hi"\n\tindented with a tab\n   \ntrailing   \n');
    expect(generated["settings.py"]).toBe("DEBUG = False\nALLOWED = ['a', 'b']\n\n\n# comment\nX = {'k': 1}\n");
  });
});

// A small deterministic generator (mulberry32), so that failures reproduce.
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  ...["\n   \n", "  \n", " ", "  ", "\t", "#", " #", ": ", ":", "-", "- ", "'", '"', "\\", "\n", "\n\n", "|", ">", "{", "}", "[", "]", ","],
  ...["&", "*", "!", "?", "%", "@", "`", "~", "null", "true", "False", "yes", "on", "0", "0755", "1e3", "0x1F", "0o7", ".inf", ".nan", "+1", "1.5"],
  ...["é", "✓", "😀", "\u00a0", "\ufeff", "word", "lorem", "ipsum", "amet,", "x".repeat(30), "a b c d e f g h i j k l m n o p q r s t u v w x y z"],
  ...["---", "...", "=", "/", ".", "$", '"quoted"'],
];

describe("random objects round-tripped through kustomize", () => {
  it("take the fast path, with yaml's value, every one", async () => {
    const rand = random(20261124);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
    const str = (): string => {
      let s = "";
      for (let i = Math.floor(rand() * 8); i > 0; i--) s += pick(PIECES);
      if (rand() < 0.1) s = `\n${s}`;
      if (rand() < 0.1) s += "\n\n";
      return s;
    };
    const scalar = (): unknown => {
      const r = rand();
      if (r < 0.55) return str();
      if (r < 0.7) return Math.floor(rand() * 1e6) - 5e5;
      if (r < 0.78) return Math.round(rand() * 1e6) / 1e4;
      if (r < 0.88) return rand() < 0.5;
      return null;
    };
    const value = (depth: number): unknown => {
      const r = rand();
      if (depth > 4 || r < 0.5) return scalar();
      const n = Math.floor(rand() * 5);
      if (r < 0.75) {
        // Keys on one line: multi-line keys are complex keys (`? `), which the fast path declines.
        return Object.fromEntries(Array.from({ length: n }, () => [rand() < 0.7 ? `k${Math.floor(rand() * 100)}` : str().replaceAll("\n", "") || "e", value(depth + 1)]));
      }
      return Array.from({ length: n }, () => value(depth + 1));
    };
    const dir = join(workDir, "random");
    await mkdir(dir, { recursive: true });
    const json = (v: unknown) =>
      JSON.stringify(v).replace(/[\ud800-\udbff][\udc00-\udfff]|[\u007f-\uffff]/g, (c) => {
        const cp = c.codePointAt(0)!;
        return cp > 0xffff ? `\\U${cp.toString(16).padStart(8, "0")}` : `\\u${cp.toString(16).padStart(4, "0")}`;
      });
    const resources: string[] = [];
    for (let i = 0; i < 150; i++) {
      const data = Object.fromEntries(Array.from({ length: 4 }, (_, k) => [`d${k}`, str()]));
      await writeFile(join(dir, `cm-${i}.json`), json({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}` }, data }));
      await writeFile(join(dir, `fz-${i}.json`), json({ apiVersion: "example.com/v1", kind: "Fuzz", metadata: { name: `fz-${i}` }, spec: value(0) }));
      resources.push(`cm-${i}.json`, `fz-${i}.json`);
    }
    await writeFile(join(dir, "kustomization.yaml"), `resources:\n${resources.map((r) => `- ${r}`).join("\n")}\n`);
    expect(expectAllFast(await kustomize(dir), "random")).toBe(300);
  });
});

describe("hand-written documents", () => {
  it.each([
    ["block scalar indentation indicators", "key: |2\n   x\nb: |1\n  y\nl:\n- |2\n   x\n- k: |2\n     x\n- - |2\n     x\n  - |\n    z\n"],
    ["block scalars: chomping, folding, empty content", "a: |-\n  x\n\n  y\n\nb: >\n  folded\n  text\n\n   more\n  end\nc: >-\n  a\n  b\nd: |+\n  keep\n\n\ne: |\nf: |+\n\ng: x\n"],
    ["a kept block scalar at the end of a document and of the stream", "a: |+\n  keep\n\n---\nb: |+\n  end\n\n"],
    ["a kept block scalar at the end of an unterminated stream", "a: |+\n  keep"],
    ["lines of only spaces inside block scalars", "a: |\n  x\n   \n \n  y\nb: >\n  x\n     \n  y\n"],
    ["multi-line plain scalars", "k: plain text that\n  goes on\n    and on\nl:\n- a\n  b\n- k: a\n    b\n"],
    ["multi-line quoted scalars", "a: 'it''s\n  wrapped\n\n  twice'\nb: \"dq\n  next \\\n  line\\\n  \\ x\"\nc:\n- \"a\n  b\"\n"],
    ["double-quoted escapes", 'a: "\\t\\n\\\\\\"\\/\\0\\a\\b\\e\\f\\r\\v\\N\\_\\L\\P\\x41\\u00e9\\U0001F600\\ "\nb: "\\uD83D"\n'],
    ["core schema scalars", "a: [] \nb: {}\nn1: ~\nn2: null\nn3: Null\nn4: NULL\nb1: true\nb2: True\nb3: FALSE\ni1: 0o17\ni2: 0x1F\ni3: -12\ni4: +5\ni5: 007\ni6: 12345678901234567890\nf1: 1e3\nf2: -.inf\nf3: .NaN\nf4: 1.\nf5: .5\nf6: +1.5e-3\ns1: 1_000\ns2: 0x\ns3: .\ns4: yes\ns5: 2001-12-14\ns6: 0o8\n"],
    ["keys: quoted, numeric, null-like, dotted, with colons", "'a''b': 1\n\"c\\\"d\": 2\n1: one\n0x10: hex\n2.50: float\n1e3: exp\nnull: n\ntrue: b\na.b/c: d\na:b: e\n-x: f\n?y: g\n:z: h\n__proto__: p\n<<: merge\nconstructor: c\n"],
    ["a null key written as ~", "~: t\n"],
    ["sequences at the key's indent and indented", "a:\n- 1\n- - 2\n  - 3\nb:\n  - x\n  - y: 1\n    z: 2\nc:\n-\n- k: v\n-\n  k2: v2\n"],
    ["comments and blank lines", "# head\n\na: 1 # trailing\n\n# between\nb:\n  # inside\n  c: 'x' # after quote\n  d: \"y\"   # after double quote\n  e: |\n    # content, not a comment\n# end\n"],
    ["empty and comment-only documents", "---\n# only a comment\n---\n---\na: 1\n---\n"],
    ["empty flow collections and nulls", "a: {}\nb: []\nc:\nd: null\ne:\n  - {}\n  - []\n  -\n"],
    ["unicode and special characters in plain scalars", "a: héllo ✓ 😀\nb: a,b[c]{d}\nc: x#y\nd: 100%\ne: a'b\"c\nf: \u00a0x\ng: x\u2028y\nh: x\u0085y\n"],
  ])("%s", (_name, text) => {
    expectSame(text);
  });

  it("the top-level value of parseYaml may be any document the fast path takes", () => {
    for (const text of ["a: 1\n", "# c\n", "a:\n  - b\n"]) expect(parseYaml(text, "x")).toStrictEqual(parse(text));
  });
});

describe("declined documents still parse exactly as yaml parses them", () => {
  const cases: [string, string][] = [
    ["anchors and aliases", "a: &x 1\nb: *x\nc: &m\n  k: v\nd: *m\n"],
    ["tags", "a: !!str 1\nb: !custom x\n"],
    ["non-empty flow collections", "a: {b: 1, c: [1, 2]}\nd: [x, 'y', \"z\"]\n"],
    ["complex keys", "? a\n: 1\n? - x\n: 2\n"],
    ["tabs", "a:\tb\nc: d\t\n"],
    ["directives", "%YAML 1.2\n---\na: 1\n"],
    ["document end markers", "a: 1\n...\n---\nb: 2\n"],
    ["a marker with a comment", "--- # the first\na: 1\n"],
    ["CRLF line ends", "a: 1\r\nb: 2\r\n"],
    ["a byte order mark", "\ufeffa: 1\n"],
    ["a scalar on its own line", "a:\n  value\n"],
    ["a comment inside a multi-line plain scalar", "a: b\n  # c\n"],
    ["indented top level", "  a: 1\n  b: 2\n"],
    ["block scalar header comments", "a: | # c\n  x\n"],
    ["leading lines of only spaces in a block scalar", "a: |\n  \n  x\n"],
  ];
  it.each(cases)("%s", (_name, text) => {
    expectDeclined(text);
    expect(parseYamlStream(text, "x")).toStrictEqual(parseYamlStreamFull(text, "x"));
    expect(parseYamlStream(text, "x")).toStrictEqual(reference(text));
  });

  it("a declined document among fast ones: each gets its own parser, the values are in order", () => {
    const text = "a: 1\n---\nb: &x 2\nc: *x\n---\nd: {e: 3}\n---\nf: 4\n";
    expect(parseYamlStream(text, "x")).toStrictEqual([{ a: 1 }, { b: 2, c: 2 }, { d: { e: 3 } }, { f: 4 }]);
  });

  it.each([
    ["a duplicate key", "a: 1\nb: 2\na: 3\n"],
    ["a duplicate key after a fast document", "ok: 1\n---\na: 1\na: 2\n"],
    ["a nested mapping on one line", "a: b: c\n"],
    ["bad indentation", "a:\n    b: 1\n  c: 2\n"],
    ["an unterminated quote", "a: 'x\nb: 2\n"],
    ["a mapping over a sequence", "a: 1\n- b\n"],
    ["an invalid escape", 'a: "\\q"\n'],
    ["a top-level list", "- a\n- b\n"],
    ["a top-level scalar after a mapping", "a: 1\n---\njust text\n"],
    ["a key equal to another once resolved", "1: a\n1.0: b\n"],
    ["more-indented leading empty lines in a block scalar", "a: |\n    \n  x\n"],
    ["a block collection on the marker line", "--- a: 1\n"],
  ])("errors come from the full parser, with file and line: %s", (_name, text) => {
    expectDeclined(text);
    const full = catchError(() => parseYamlStreamFull(text, "some/file.yaml"));
    const mixed = catchError(() => parseYamlStream(text, "some/file.yaml"));
    expect(full).toBeInstanceOf(ValidationError);
    expect(mixed).toBeInstanceOf(ValidationError);
    expect((mixed as ValidationError).problems).toStrictEqual((full as ValidationError).problems);
    expect((mixed as ValidationError).problems[0]!.file).toBe("some/file.yaml");
  });

  it("parseYaml's errors are parseYamlDocument's", () => {
    const text = "a: 1\na: 2\n";
    expect(catchError(() => parseYaml(text, "f.yaml"))).toStrictEqual(catchError(() => parseYamlDocument(text, "f.yaml")));
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

describe("mutated documents: whatever the fast path accepts is valid YAML with the same value", () => {
  it("thousands of random edits of kustomize output and of hand-written YAML", async () => {
    const renders = await kustomize(join(TOOLS_ROOT, "overlays", "dev"));
    const seeds = [
      ...renders.split("\n---\n").slice(0, 8),
      "a: 1\nb:\n- x\n- y: 2\n  z: |\n    lit\n    more\nc: \"q\\\"x\\n\"\n",
      "k: 'it''s\n  wrapped'\nl:\n- - 1\n  - 2\n- []\n- {}\n",
      "m: |2-\n\n    lead\nn: >\n  folded\n  text\n\n   more\n  end\n",
      "o: plain text that\n  continues here\np: |+\n  keep\n\nq: x\n",
      "list:\n- a: 1\n  b:\n  - c\n- |\n  s\n- \"dq\n  next \\\n  line\"\n",
      "top:\n  nested:\n    deep: value # comment\n  # comment line\n  other: 'x' # c\n",
    ];
    const pieces = [" ", "  ", "\t", "#", " #", ": ", ":", "-", "- ", "'", '"', "''", "\\", "|", ">", "|-", "|+", "|2", "{", "}", "[", "]", "{}", "[]", "&a", "*a", "!t", "? ", "%", "@", "`", ",", "---", "...", "\n", "\n  ", "\n- ", "x", "1", "~", "null", "é", "\r", "a: b", "  - x", "\n\n", "__proto__"];
    const rand = random(7);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
    let accepted = 0;
    for (let i = 0; i < 4000; i++) {
      let text = pick(seeds);
      for (let m = 1 + Math.floor(rand() * 3); m > 0; m--) {
        const at = Math.floor(rand() * (text.length + 1));
        const r = rand();
        if (r < 0.5) text = text.slice(0, at) + pick(pieces) + text.slice(at);
        else if (r < 0.8) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 3));
        else {
          const lines = text.split("\n");
          lines.splice(Math.floor(rand() * lines.length), 0, pick(lines));
          text = lines.join("\n");
        }
      }
      const stream = splitKyamlStream(text);
      if (!stream) continue;
      for (const [start, end] of stream.docs) {
        const outcome = fast(stream, start, end);
        if (!outcome.accepted) continue;
        accepted++;
        const doc = kyamlDocumentText(stream, start, end);
        const docs = parseAllDocuments(doc, { uniqueKeys: true });
        const list = Array.isArray(docs) ? docs : [];
        expect(list.flatMap((d) => d.errors.map((e) => e.message)), doc).toEqual([]);
        expect(outcome.value, doc).toStrictEqual(list.length ? list[0]!.toJS() : null);
      }
    }
    expect(accepted).toBeGreaterThan(500);
  });
});
