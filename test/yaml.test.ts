// tools/core/yaml.ts: js-yaml parses plain streams, `yaml` everything else. On real renders the
// two agree value for value; what js-yaml would read differently or not bound (anchors and
// aliases) and what it rejects goes to `yaml`, which reports the file and line.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../tools/core/errors.ts";
import { TOOLS_ROOT } from "../tools/core/paths.ts";
import { jsYamlStream, parseYaml, parseYamlStream, parseYamlStreamFull } from "../tools/core/yaml.ts";
import { render } from "../tools/render/kustomize.ts";

describe("parseYamlStream", () => {
  it("reads kustomize's output exactly as the full parser does", { timeout: 120_000 }, async () => {
    const fixture = join(TOOLS_ROOT, "test", "fixtures", "ringlet-snapshot");
    const output = await render(join(fixture, "base", "app"), { root: fixture });
    const fast = jsYamlStream(output);
    expect(fast?.length).toBeGreaterThan(3);
    expect(fast).toEqual(parseYamlStreamFull(output, "render"));
  });

  it("reads YAML 1.2 core scalars as `yaml` does (no 1.1 booleans, no timestamps, no merge keys)", () => {
    const text = "a: yes\nb: 2001-12-14\nc: 0755\nd: 0x1F\ne: ~\nf: .inf\ng: 'true'\nh: True\ni: \"<<\"\n<<: {x: 1}\nj: 1e3\n";
    expect(jsYamlStream(text)).toEqual(parseYamlStreamFull(text, "f"));
  });

  it("leaves anchors and aliases to `yaml`, which refuses an alias bomb with its line", () => {
    expect(jsYamlStream("a: &x 1\nb: *x\n")).toBeUndefined();
    expect(parseYamlStream("a: &x 1\nb: *x\n", "f")).toEqual([{ a: 1, b: 1 }]);
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(", ")}]`)].join("\n");
    expect(() => parseYamlStream(bomb, "bomb.yaml")).toThrow(ValidationError);
    // Strings with * or & are not aliases: js-yaml still takes them.
    expect(jsYamlStream('schedule: "0 15 * * 5"\nverbs: ["*"]\nq: a & b\n')).toEqual([{ schedule: "0 15 * * 5", verbs: ["*"], q: "a & b" }]);
  });

  it("reports what js-yaml rejects through `yaml`, with the file and line", () => {
    for (const [text, line] of [
      ["a: 1\na: 2\n", 2],
      ["a: [1, 2\n", undefined],
      ["- 1\n- 2\n", undefined],
    ] as const) {
      try {
        parseYamlStream(text, "f.yaml");
        expect.unreachable(text);
      } catch (error) {
        expect(error, text).toBeInstanceOf(ValidationError);
        const p = (error as ValidationError).problems[0]!;
        expect(p.file).toBe("f.yaml");
        if (line !== undefined) expect(p.line, text).toBe(line);
      }
    }
    expect(parseYaml("x: 1\n", "f")).toEqual({ x: 1 });
    expect(parseYaml("", "f")).toBeNull();
  });
});
