// Finds the line of a field inside a source file, so that findings become annotations on the
// right line of a pull request. The rendered object may differ from its source (patches merge
// into lists), so the walk stops at the deepest node that exists.
import { isMap, isSeq, type Node } from "yaml";
import { parseYamlDocumentsWithLines } from "../core/yaml.ts";

/** Splits `a.b[0]["x.y/z"].c` into ["a", "b", 0, "x.y/z", "c"]. */
export function segments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|([^.[\]]+)/g;
  for (const m of path.matchAll(re)) {
    if (m[1] !== undefined) out.push(m[1].replace(/\\(.)/g, "$1"));
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[3] !== undefined) out.push(m[3]);
  }
  return out;
}

/** 1-based line of `path` in the document of `file` that declares kind/name; undefined if not found. */
export function locateLine(text: string, kind: string | undefined, name: string | undefined, path: string): number | undefined {
  const { docs, lines } = parseYamlDocumentsWithLines(text);
  for (const doc of docs) {
    const root = doc.contents;
    if (!isMap(root)) continue;
    const docKind: unknown = root.get("kind");
    const meta: unknown = root.get("metadata");
    const docName: unknown = isMap(meta) ? meta.get("name") : undefined;
    if (kind !== undefined && docKind !== undefined && docKind !== kind) continue;
    if (name !== undefined && docName !== undefined && docName !== name) continue;
    let node: Node | null | undefined = root as Node;
    let line = root.range ? lines.linePos(root.range[0]).line : undefined;
    for (const segment of segments(path)) {
      let next: unknown;
      if (typeof segment === "number" && isSeq(node)) next = node.items[segment];
      else if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === segment);
        if (pair?.key && (pair.key as Node).range) line = lines.linePos((pair.key as Node).range![0]).line;
        next = pair?.value;
      }
      if (!next || typeof next !== "object" || !("range" in next)) break;
      node = next as Node;
      if (node.range && typeof segment === "number") line = lines.linePos(node.range[0]).line;
    }
    return line;
  }
  return undefined;
}
