// Aligned terminal tables and the short forms of dates and commits they show.
import { paint, type Colour } from "./term.ts";

export type Cell = string | { text: string; colour?: Colour };

/** Aligned columns (two spaces apart), the header dimmed; colour never changes the alignment. */
export function formatColumns(headers: string[], rows: Cell[][], colour: boolean, indent = ""): string {
  const text = (c: Cell | undefined) => (c === undefined ? "" : typeof c === "string" ? c : c.text);
  const width = (s: string) => [...s].length;
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(text(r[i])))));
  const line = (cells: Cell[], header: boolean) =>
    indent +
    cells
      .map((c, i) => {
        const t = text(c);
        const padded = i === cells.length - 1 ? t : t + " ".repeat(Math.max(0, (widths[i] ?? 0) - width(t)));
        if (header) return paint(padded, "dim", colour);
        return typeof c === "object" && c.colour ? paint(t, c.colour, colour) + padded.slice(t.length) : padded;
      })
      .join("  ")
      .trimEnd();
  return [line(headers, true), ...rows.map((r) => line(r, false))].join("\n") + "\n";
}

/** 2025-01-02T14:03:11+01:00 → 2025-01-02 14:03 (the committer's own clock). */
export function shortDate(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}

export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

export function clip(text: string, max: number): string {
  return [...text].length <= max ? text : `${[...text].slice(0, max - 1).join("")}…`;
}

