// The one place that parses YAML. Multi-document streams (kustomize output, patch files) and
// single documents both come through here, with errors that name the file and line.
import { createRequire } from "node:module";
import type { Document, LineCounter } from "yaml";
import { ValidationError, type Problem } from "./errors.ts";
import { CORE_SCHEMA, load as jsYamlLoad, loadAll as jsYamlLoadAll } from "js-yaml";

// Two maintained parsers. js-yaml (YAML 1.2 core schema: no timestamps, no merge keys, as `yaml`
// reads them) parses plain documents, about 8x faster than `yaml`; `yaml` parses whatever js-yaml
// declines or rejects, reports every error with its line, keeps positions for exact edits, and
// bounds alias expansion. A hand-written parser for kustomize's output (kyaml-fast.ts) was
// measured against js-yaml at 300 overlays and removed: it saved under 1% of a cold check's wall
// time, and with the render cache only changed overlays are parsed at all (README, "Speed").

/** An anchor or alias token: such text goes to `yaml`, which bounds alias expansion. */
const ANCHOR_OR_ALIAS = /(?:^|[\s[\]{},])[&*][^\s[\]{},]/m;

/** The fast path alone: every document of a plain stream, or undefined when `yaml` must answer. */
export function jsYamlStream(text: string): KubeObject[] | undefined {
  if (ANCHOR_OR_ALIAS.test(text)) return undefined;
  let docs: unknown[];
  try {
    docs = jsYamlLoadAll(text, undefined, { schema: CORE_SCHEMA });
  } catch {
    return undefined;
  }
  const out: KubeObject[] = [];
  for (const doc of docs) {
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== "object" || Array.isArray(doc)) return undefined;
    out.push(doc as KubeObject);
  }
  return out;
}

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [key: string]: unknown;
};

// `yaml` is loaded on first use (some 50 ms): kustomize's output takes js-yaml, and a
// command should not wait for a parser it may not need before it can start kustomize.
let yamlModule: typeof import("yaml") | undefined;
function yaml(): typeof import("yaml") {
  yamlModule ??= createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return yamlModule;
}

function yamlProblems(file: string, doc: Document, lines: LineCounter): Problem[] {
  return doc.errors.map((e) => {
    const at = lines.linePos(e.pos[0]);
    // yaml's messages end with their own " at line N, column M:" and a source excerpt; the
    // position is already in the path.
    const message = (e.message.split("\n")[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, "");
    return { file, path: `line ${at.line}:${at.col}`, line: at.line, message };
  });
}

/**
 * Parses every document of a YAML stream into plain objects; empty documents are dropped.
 * js-yaml takes plain streams; anything with anchors or aliases, or that js-yaml rejects (a YAML
 * error, a duplicate key, a document that is not a mapping), goes through `yaml`, which reports
 * it with the file and line.
 */
export function parseYamlStream(text: string, file: string): KubeObject[] {
  return jsYamlStream(text) ?? parseYamlStreamFull(text, file);
}

/**
 * yaml's own guard against "billion laughs" documents: a few KB of nested aliases would expand to
 * gigabytes. Its ReferenceError becomes an input problem (file, line of the first alias), not a
 * stack trace (issue 11, item 8).
 */
const MAX_ALIAS_COUNT = 100;

function toPlain(doc: Document, file: string, lines?: LineCounter): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError) || !/alias/i.test(error.message)) throw error;
    let at = "";
    yaml().visit(doc, {
      Alias(_, node) {
        if (lines && node.range) {
          const pos = lines.linePos(node.range[0]);
          at = `line ${pos.line}:${pos.col}`;
        }
        return yaml().visit.BREAK;
      },
    });
    throw new ValidationError([{ file, path: at, message: `YAML aliases expand too far (more than ${MAX_ALIAS_COUNT} alias uses per document): refused as a resource-exhaustion ("alias bomb") document` }]);
  }
}

/** The full parser over the whole stream: the reference behaviour, and the source of every error. */
export function parseYamlStreamFull(text: string, file: string): KubeObject[] {
  const lines = new (yaml().LineCounter)();
  const docs = yaml().parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  const problems = docs.flatMap((d) => yamlProblems(file, d, lines));
  if (problems.length) throw new ValidationError(problems);
  const out: KubeObject[] = [];
  for (const doc of docs) {
    const value = toPlain(doc, file, lines);
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new ValidationError([{ file, path: "", message: "expected a mapping at the top of each YAML document" }]);
    }
    out.push(value as KubeObject);
  }
  return out;
}

/** Parses one YAML document, keeping the Document (ranges, comments) for exact edits. */
export function parseYamlDocument(text: string, file: string): { doc: Document; lines: LineCounter } {
  const lines = new (yaml().LineCounter)();
  const doc = yaml().parseDocument(text, { lineCounter: lines, uniqueKeys: true, keepSourceTokens: true });
  const problems = yamlProblems(file, doc, lines);
  if (problems.length) throw new ValidationError(problems);
  return { doc, lines };
}

/** Parses one YAML document into a plain value (js-yaml first, as parseYamlStream). */
export function parseYaml(text: string, file: string): unknown {
  if (!ANCHOR_OR_ALIAS.test(text)) {
    try {
      const value = jsYamlLoad(text, { schema: CORE_SCHEMA });
      if (value !== undefined) return value;
    } catch {
      // the full parser reports it, with its line
    }
  }
  const { doc, lines } = parseYamlDocument(text, file);
  return toPlain(doc, file, lines);
}

/** Every document of a YAML stream as a Document with positions (for pointing at a field's line). */
export function parseYamlDocumentsWithLines(text: string): { docs: Document[]; lines: LineCounter } {
  const { LineCounter: Lines, parseAllDocuments } = yaml();
  const lines = new Lines();
  const docs = parseAllDocuments(text, { lineCounter: lines });
  return { docs: Array.isArray(docs) ? docs : [], lines };
}
