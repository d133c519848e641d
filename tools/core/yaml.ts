// The one place that parses YAML. Multi-document streams (kustomize output, patch files) and
// single documents both come through here, with errors that name the file and line.
import { createRequire } from "node:module";
import type { Document, LineCounter } from "yaml";
import { ValidationError, type Problem } from "./errors.ts";
import { kyamlDocumentText, parseKyamlDocument, splitKyamlStream } from "./kyaml-fast.ts";

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [key: string]: unknown;
};

// `yaml` is loaded on first use (some 50 ms): kustomize's output takes the fast path, and a
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
 * kustomize's canonical output takes the fast path (kyaml-fast.ts), one document at a time; a
 * document outside its subset is parsed by `yaml` alone, and anything that is not plainly valid
 * (a YAML error, a document that is not a mapping) sends the whole stream through `yaml`, which
 * reports it with the file and line exactly as it always has.
 */
export function parseYamlStream(text: string, file: string): KubeObject[] {
  return parseStreamFast(text) ?? parseYamlStreamFull(text, file);
}

/** The fast path, or undefined when only the full parser may answer for this stream. */
function parseStreamFast(text: string): KubeObject[] | undefined {
  const stream = splitKyamlStream(text);
  if (!stream) return undefined;
  const out: KubeObject[] = [];
  for (const [start, end] of stream.docs) {
    let value: unknown;
    try {
      value = parseKyamlDocument(stream, start, end);
    } catch {
      // Outside the subset (or anything else: the fast path is only ever an optimisation). This
      // document alone through `yaml`: the lines between two `---` lines parse the same on
      // their own (splitKyamlStream declined streams with directives or other markers).
      const values = parseDocumentsPlain(kyamlDocumentText(stream, start, end));
      if (!values) return undefined;
      out.push(...values);
      continue;
    }
    if (value !== null) out.push(value as KubeObject);
  }
  return out;
}

/** Mappings of a stream without errors, or undefined for anything the full path must report. */
function parseDocumentsPlain(text: string): KubeObject[] | undefined {
  const docs = yaml().parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  const out: KubeObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length) return undefined;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch {
      return undefined;
    }
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) return undefined;
    out.push(value as KubeObject);
  }
  return out;
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

/** Parses one YAML document into a plain value (a mapping in the fast path's subset takes it). */
export function parseYaml(text: string, file: string): unknown {
  const stream = splitKyamlStream(text);
  // Only a document without `---` lines: anything else is for `yaml` to judge.
  if (stream && stream.docs.length === 1 && stream.docs[0]![0] === 0 && stream.docs[0]![1] === stream.lineCount) {
    try {
      return parseKyamlDocument(stream, 0, stream.lineCount);
    } catch {
      // outside the subset: the full parser answers
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
