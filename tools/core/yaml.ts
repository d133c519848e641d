// The one place that parses YAML. Multi-document streams (kustomize output, patch files) and
// single documents both come through here, with errors that name the file and line.
import { LineCounter, parseAllDocuments, parseDocument, type Document } from "yaml";
import { ValidationError, type Problem } from "./errors.ts";

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [key: string]: unknown;
};

function yamlProblems(file: string, doc: Document, lines: LineCounter): Problem[] {
  return doc.errors.map((e) => {
    const at = lines.linePos(e.pos[0]);
    return { file, path: `line ${at.line}:${at.col}`, message: e.message.split("\n")[0] ?? e.message };
  });
}

/** Parses every document of a YAML stream into plain objects; empty documents are dropped. */
export function parseYamlStream(text: string, file: string): KubeObject[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  const problems = docs.flatMap((d) => yamlProblems(file, d, lines));
  if (problems.length) throw new ValidationError(problems);
  const out: KubeObject[] = [];
  for (const doc of docs) {
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
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
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, keepSourceTokens: true });
  const problems = yamlProblems(file, doc, lines);
  if (problems.length) throw new ValidationError(problems);
  return { doc, lines };
}

/** Parses one YAML document into a plain value. */
export function parseYaml(text: string, file: string): unknown {
  return parseYamlDocument(text, file).doc.toJS({ maxAliasCount: 100 });
}
