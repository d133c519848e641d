// Presenting rendered-manifest changes: plain text for terminals, markdown for pull requests.
import { paint } from "../core/term.ts";
import { PRIMARY_OVERLAY, type ImageChange, type ResourceChange } from "./manifests.ts";

/** One line per environment whose images change: what it ran and what it will run. */
export function imageLines(images: ImageChange[]): string[] {
  return images.map((c) => {
    const what = c.status === "added" ? "new environment, will run" : c.status === "removed" ? "removed environment, ran" : "images";
    const list = c.status === "changed" ? `${c.before.join(", ") || "none"} → ${c.after.join(", ") || "none"}` : (c.status === "added" ? c.after : c.before).join(", ") || "no images";
    return `${c.env}: ${what} ${list}`;
  });
}

/** GitHub refuses comment and pull-request bodies longer than this many characters. */
export const GITHUB_BODY_LIMIT = 65_536;

interface EnvSummary {
  env: string;
  added: number;
  changed: number;
  removed: number;
  plus: number;
  minus: number;
}

export function summarize(changes: ResourceChange[], envs: string[]): EnvSummary[] {
  return envs.map((env) => {
    const mine = changes.filter((c) => c.env === env);
    return {
      env,
      added: mine.filter((c) => c.status === "added").length,
      changed: mine.filter((c) => c.status === "changed").length,
      removed: mine.filter((c) => c.status === "removed").length,
      plus: mine.reduce((n, c) => n + c.added, 0),
      minus: mine.reduce((n, c) => n + c.removed, 0),
    };
  });
}

const label = (c: ResourceChange) => `${c.key}${c.layer !== PRIMARY_OVERLAY ? ` (${c.layer})` : ""}`;

export function formatDiffText(changes: ResourceChange[], envs: string[], colour = false, images: ImageChange[] = []): string {
  if (changes.length === 0) return "No rendered changes.\n";
  const lines = ["Summary:"];
  for (const s of summarize(changes, envs)) {
    if (s.added + s.changed + s.removed === 0) lines.push(`  ${s.env}: no changes`);
    else lines.push(`  ${s.env}: ${s.added} added, ${s.changed} changed, ${s.removed} removed (+${s.plus} -${s.minus} lines)`);
  }
  if (images.length) lines.push("", "Images:", ...imageLines(images).map((l) => `  ${l}`));
  for (const env of envs) {
    const mine = changes.filter((c) => c.env === env);
    if (!mine.length) continue;
    lines.push("", paint(`== ${env} ==`, "bold", colour));
    for (const c of mine) {
      lines.push(paint(`-- ${label(c)}: ${c.status} (+${c.added} -${c.removed})`, "cyan", colour));
      for (const l of c.diff.trimEnd().split("\n").slice(2)) {
        lines.push(l.startsWith("+") ? paint(l, "green", colour) : l.startsWith("-") ? paint(l, "red", colour) : l.startsWith("@@") ? paint(l, "cyan", colour) : l);
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

function fence(diff: string): string {
  const body = diff.trimEnd().split("\n").slice(2).join("\n");
  const ticks = body.includes("```") ? "````" : "```";
  return `${ticks}diff\n${body}\n${ticks}`;
}

export interface MarkdownOptions {
  /** Text before the summary (title, what the change is). */
  preface?: string;
  /** Character budget of the whole output (GitHub's body limit by default). */
  limit?: number;
  /** Image changes per environment, listed under the summary. */
  images?: ImageChange[];
}

/**
 * Summary table first, then one collapsible section per resource. Whole resources are kept
 * until the budget is spent; what does not fit is named in a closing notice, never cut mid-diff.
 */
export function formatDiffMarkdown(changes: ResourceChange[], envs: string[], options: MarkdownOptions = {}): string {
  const limit = options.limit ?? GITHUB_BODY_LIMIT;
  const head: string[] = [];
  if (options.preface) head.push(options.preface.trimEnd(), "");
  head.push("### Rendered manifest changes", "");
  if (changes.length === 0) {
    head.push("No rendered changes in any environment.");
    return `${head.join("\n")}\n`;
  }
  head.push("| Environment | Added | Changed | Removed | Lines |", "| --- | ---: | ---: | ---: | ---: |");
  for (const s of summarize(changes, envs)) head.push(`| ${s.env} | ${s.added} | ${s.changed} | ${s.removed} | +${s.plus} −${s.minus} |`);
  if (options.images?.length) head.push("", "**Images**", "", ...imageLines(options.images).map((l) => `- ${l.replace(/^([^:]+):/, "**$1**:")}`));
  let out = `${head.join("\n")}\n`;
  const omitted: ResourceChange[] = [];
  // Room kept for the closing notice, so that it always fits.
  const reserve = 400;
  for (const env of envs) {
    const mine = changes.filter((c) => c.env === env);
    if (!mine.length) continue;
    let heading = `\n#### ${env}\n`;
    for (const c of mine) {
      const section = `${heading}\n<details><summary><code>${label(c)}</code> ${c.status} (+${c.added} −${c.removed})</summary>\n\n${fence(c.diff)}\n\n</details>\n`;
      if (omitted.length === 0 && out.length + section.length + reserve <= limit) {
        out += section;
        heading = "";
      } else {
        omitted.push(c);
      }
    }
  }
  if (omitted.length) {
    const lines = omitted.reduce((n, c) => n + c.added + c.removed, 0);
    const names = omitted.map((c) => `${c.env}/${label(c)}`);
    let list = names.join(", ");
    if (list.length > 200) list = `${list.slice(0, 200)}…`;
    out += `\n> [!NOTE]\n> Truncated: ${omitted.length} more resource diff${omitted.length === 1 ? "" : "s"} (${lines} changed lines) did not fit GitHub's ${limit.toLocaleString("en-US")}-character limit: ${list}. Run \`pnpm diff\` for the full diff.\n`;
  }
  return out.length > limit ? `${out.slice(0, limit - 1)}…` : out;
}
