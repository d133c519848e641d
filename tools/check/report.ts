// How findings are shown: text for people, JSON for scripts, workflow commands for GitHub Actions
// (so they appear as annotations on the pull request's files).
import { paint } from "../core/term.ts";
import type { Finding } from "../rules/types.ts";

export function formatText(findings: Finding[], colour: boolean): string {
  if (findings.length === 0) return `${paint("✓", "green", colour)} no findings\n`;
  const lines = findings.map((f) => {
    const where = `${f.file}${f.line ? `:${f.line}` : ""}`;
    const at = [f.env ? `[${f.env}]` : "", f.object ?? "", f.path].filter(Boolean).join(" ");
    const [first, ...rest] = f.message.split("\n");
    return `${paint(where, "bold", colour)}: ${paint(f.rule, "yellow", colour)}: ${at ? `${at}: ` : ""}${first}${rest.length ? `\n${rest.map((l) => `    ${l}`).join("\n")}` : ""}`;
  });
  return `${lines.join("\n")}\n\n${paint(`${findings.length} finding${findings.length === 1 ? "" : "s"}`, "red", colour)}\n`;
}

export function formatJson(findings: Finding[], extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ ok: findings.length === 0, count: findings.length, findings, ...extra }, null, 2)}\n`;
}

/** Escaping per GitHub's workflow-command rules (data and properties differ). */
function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

export function formatAnnotations(findings: Finding[]): string {
  return findings
    .map((f) => {
      const props = [`file=${escapeProperty(f.file)}`];
      if (f.line) props.push(`line=${f.line}`);
      props.push(`title=${escapeProperty(f.rule)}`);
      const at = [f.env ? `[${f.env}]` : "", f.object ?? "", f.path].filter(Boolean).join(" ");
      return `::error ${props.join(",")}::${escapeData(`${at ? `${at}: ` : ""}${f.message}`)}\n`;
    })
    .join("");
}
