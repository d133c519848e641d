// The spec's JSON Schema and its reference page, both generated from the one zod schema
// (tools/spec/schema.ts) so that editors, the docs and the validator never disagree (issue 10.10).
// `pnpm generate` writes them into the tools' own checkout; `pnpm check` reports them as drift.
// yaml-language-server (VS Code's YAML extension, and others) reads the schema named on the
// spec's first line: `# yaml-language-server: $schema=../schema/environments.schema.json`.
import { z } from "zod";
import { specSchema } from "./schema.ts";

/** Where the generated files live, relative to the repository root. */
export const SCHEMA_FILE = "schema/environments.schema.json";
export const REFERENCE_FILE = "docs/spec-reference.md";
/** The modeline that makes an editor validate and complete the spec (relative to overlays/). */
export const SCHEMA_MODELINE = `# yaml-language-server: $schema=../${SCHEMA_FILE}`;

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  maxLength?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  definitions?: Record<string, JsonSchema>;
  $defs?: Record<string, JsonSchema>;
  [key: string]: unknown;
};

/**
 * The JSON Schema of the spec as a user writes it (zod's input side: defaulted fields optional).
 * Draft 7, the draft every yaml-language-server release reads. Cross-field rules (a singleton's
 * replicas, names that must exist in the base) are not expressible here: `pnpm generate` and
 * `pnpm check` still report those, with file and line.
 */
export function specJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(specSchema, { io: "input", target: "draft-7", unrepresentable: "any" }) as JsonSchema;
  dropUnknownFormats(schema);
  return {
    $schema: schema.$schema,
    $id: "https://gitops-kit.invalid/schema/environments.schema.json",
    title: "overlays/environments.yaml",
    description: "The environments spec: `pnpm generate` writes every overlay and Argo CD application from it. Generated from tools/spec/schema.ts; see docs/spec-reference.md.",
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== "$schema")),
  };
}

/** Draft 7's formats; zod also writes its own check names (`includes`), which editors flag as unknown. */
const FORMATS = new Set(["date-time", "date", "time", "email", "idn-email", "hostname", "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uri-template", "json-pointer", "relative-json-pointer", "regex"]);
function dropUnknownFormats(node: unknown): void {
  if (!node || typeof node !== "object") return;
  if (Array.isArray(node)) return node.forEach(dropUnknownFormats);
  const o = node as Record<string, unknown>;
  if (typeof o.format === "string" && !FORMATS.has(o.format)) delete o.format;
  for (const v of Object.values(o)) dropUnknownFormats(v);
}

export function specJsonSchemaText(): string {
  return `${JSON.stringify(specJsonSchema(), null, 2)}\n`;
}

function resolveRef(root: JsonSchema, s: JsonSchema): JsonSchema {
  let at = s;
  for (let i = 0; at.$ref && i < 20; i++) {
    const parts = at.$ref.replace(/^#\//, "").split("/");
    let found: unknown = root;
    for (const p of parts) found = (found as Record<string, unknown> | undefined)?.[decodeURIComponent(p.replace(/~1/g, "/").replace(/~0/g, "~"))];
    if (!found) break;
    at = { ...(found as JsonSchema), ...(at.description ? { description: at.description } : {}) };
  }
  return at;
}

const code = (v: unknown) => `\`${typeof v === "string" ? v : JSON.stringify(v)}\``;

/** A short type for a table cell: `string`, `integer 1-65535`, `"auto" \| "manual"`, `map of object`... */
function typeOf(root: JsonSchema, raw: JsonSchema): string {
  const s = resolveRef(root, raw);
  if (s.const !== undefined) return code(s.const);
  if (s.enum) return s.enum.map(code).join(" | ");
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return [...new Set(variants.map((v) => typeOf(root, v)))].join(" | ");
  const t = Array.isArray(s.type) ? s.type.join(" | ") : s.type;
  if (t === "array") return `list of ${s.items ? typeOf(root, s.items) : "any"}`;
  if (t === "object" && !s.properties && s.additionalProperties && typeof s.additionalProperties === "object") return `map of ${typeOf(root, s.additionalProperties)}`;
  const max = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : undefined;
  const min = s.minimum !== undefined && s.minimum > Number.MIN_SAFE_INTEGER ? s.minimum : undefined;
  const bounds = min !== undefined || max !== undefined ? (max === undefined ? ` ≥ ${min}` : ` ${min ?? ""}..${max}`) : "";
  return `${t ?? "any"}${bounds}`;
}

function constraints(root: JsonSchema, raw: JsonSchema): string {
  const s = resolveRef(root, raw);
  const out: string[] = [];
  if (s.pattern) out.push(`pattern ${code(s.pattern)}`);
  if (s.format) out.push(`format ${s.format}`);
  if (s.minItems) out.push(`at least ${s.minItems}`);
  if (s.maxLength) out.push(`at most ${s.maxLength} characters`);
  return out.join("; ");
}

interface Row {
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
  constraints: string;
}

/** Every field of the schema, depth first, with the path a user writes (`environments.<env>.host`). */
function rows(root: JsonSchema, raw: JsonSchema, path: string, required: boolean, out: Row[], depth = 0): void {
  const s = resolveRef(root, raw);
  if (depth > 12) return;
  if (path) out.push({ path, type: typeOf(root, raw), required, default: s.default, description: (raw.description ?? s.description ?? "").replace(/\s*\n\s*/g, " "), constraints: constraints(root, raw) });
  const variants = s.anyOf ?? s.oneOf;
  if (variants) {
    // A discriminated union: each variant's fields under the same path, named by its discriminator.
    for (const v of variants.map((x) => resolveRef(root, x))) {
      const tag = Object.entries(v.properties ?? {}).find(([, p]) => resolveRef(root, p).const !== undefined);
      const label = tag ? `${path}{${tag[0]}: ${String(resolveRef(root, tag[1]).const)}}` : path;
      for (const [key, child] of Object.entries(v.properties ?? {})) {
        if (tag && key === tag[0]) continue;
        rows(root, child, `${label}.${key}`, (v.required ?? []).includes(key), out, depth + 1);
      }
    }
    return;
  }
  for (const [key, child] of Object.entries(s.properties ?? {})) rows(root, child, path ? `${path}.${key}` : key, (s.required ?? []).includes(key), out, depth + 1);
  if (s.additionalProperties && typeof s.additionalProperties === "object" && !s.properties) {
    const item = resolveRef(root, s.additionalProperties);
    if (item.properties || item.anyOf || item.oneOf) rows(root, s.additionalProperties, `${path}.<${placeholder(path)}>`, false, out, depth + 1);
  }
  if (s.items) {
    const item = resolveRef(root, s.items);
    if (item.properties || item.anyOf || item.oneOf) rows(root, s.items, `${path}[]`, false, out, depth + 1);
  }
}

/** `environments` -> `env`, `components` -> `component`, anything else -> `name`. */
function placeholder(path: string): string {
  const last = path.split(".").pop()!.replace(/\W/g, "");
  return { environments: "env", components: "component", layers: "layer", data: "store", clusters: "cluster" }[last] ?? "name";
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The reference page: one table row per field, from the schema's own descriptions. */
export function specReference(schema: JsonSchema = specJsonSchema()): string {
  const out: Row[] = [];
  rows(schema, schema, "", true, out);
  const lines = [
    "<!-- Generated by `pnpm generate` from tools/spec/schema.ts: do not edit; `pnpm check` reports drift. -->",
    "# Spec reference: `overlays/environments.yaml`",
    "",
    `Every field of the spec, generated from the same zod schema that validates it. Editors that use`,
    `yaml-language-server (VS Code's YAML extension, Neovim, JetBrains) complete and validate the spec`,
    `through its first line, \`${SCHEMA_MODELINE}\` (the JSON Schema: \`${SCHEMA_FILE}\`).`,
    "Rules across fields (names that must exist in the base, one primary layer, a singleton's replicas)",
    "are checked by `pnpm generate` and `pnpm check`, which name the file, line and path of each problem.",
    "",
    "`<env>`, `<component>`, `<name>`: keys you choose. `a{mode: managed}.x`: field `x` when `a.mode` is `managed`.",
    "",
    "| Field | Type | Required | Default | Description |",
    "| --- | --- | --- | --- | --- |",
    ...out.map((r) =>
      `| \`${cell(r.path)}\` | ${cell(r.type)} | ${r.required ? "yes" : ""} | ${r.default === undefined ? "" : cell(code(r.default))} | ${cell([r.description, r.constraints].filter(Boolean).map((t) => (/[.:;!?)]$/.test(t) ? t : `${t}.`)).join(" "))} |`,
    ),
    "",
  ];
  return lines.join("\n");
}
