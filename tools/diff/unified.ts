// Line diff (Myers' O(ND) algorithm) and unified-diff formatting, shared by drift reports,
// rendered-manifest diffs and pull-request bodies.

export type Edit = { op: " " | "-" | "+"; line: string };

function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** The shortest edit script turning `a` into `b`, as kept/removed/added lines. */
export function diffLines(aText: string, bText: string): Edit[] {
  const a = splitLines(aText);
  const b = splitLines(bText);
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const v = new Int32Array(2 * max + 2);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[max + k - 1]! < v[max + k + 1]!) ? v[max + k + 1]! : v[max + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[max + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Walk the trace backwards to recover the edits.
  const edits: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[max + k - 1]! < vd[max + k + 1]!) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : vd[max + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      edits.push({ op: " ", line: a[--x]! });
      y--;
    }
    if (d > 0) {
      if (x === prevX) edits.push({ op: "+", line: b[--y]! });
      else edits.push({ op: "-", line: a[--x]! });
    }
  }
  return edits.reverse();
}

export interface DiffStats {
  added: number;
  removed: number;
}

export function stats(edits: Edit[]): DiffStats {
  let added = 0;
  let removed = 0;
  for (const e of edits) {
    if (e.op === "+") added++;
    else if (e.op === "-") removed++;
  }
  return { added, removed };
}

/** A unified diff (`--- a`, `+++ b`, `@@` hunks with `context` lines); empty when equal. */
export function unifiedDiff(aText: string, bText: string, aName: string, bName: string, context = 3): string {
  const edits = diffLines(aText, bText);
  if (!edits.some((e) => e.op !== " ")) return "";
  const out = [`--- ${aName}`, `+++ ${bName}`];
  let i = 0;
  let aLine = 1;
  let bLine = 1;
  const positions = edits.map((e) => {
    const pos = { a: aLine, b: bLine };
    if (e.op !== "+") aLine++;
    if (e.op !== "-") bLine++;
    return pos;
  });
  while (i < edits.length) {
    while (i < edits.length && edits[i]!.op === " ") i++;
    if (i >= edits.length) break;
    const start = Math.max(0, i - context);
    let end = i;
    // Extend the hunk while changes are within 2*context lines of each other.
    while (end < edits.length) {
      if (edits[end]!.op !== " ") {
        end++;
        continue;
      }
      let run = 0;
      while (end + run < edits.length && edits[end + run]!.op === " ") run++;
      if (end + run >= edits.length || run > 2 * context) {
        end = Math.min(edits.length, end + context);
        break;
      }
      end += run;
    }
    const hunk = edits.slice(start, end);
    const aCount = hunk.filter((e) => e.op !== "+").length;
    const bCount = hunk.filter((e) => e.op !== "-").length;
    const p = positions[start]!;
    out.push(`@@ -${aCount ? p.a : p.a - 1},${aCount} +${bCount ? p.b : p.b - 1},${bCount} @@`);
    for (const e of hunk) out.push(`${e.op}${e.line}`);
    i = end;
  }
  return `${out.join("\n")}\n`;
}
