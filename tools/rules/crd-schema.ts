// Custom resources validated against the CRDs that define them, as the API server does.
//
// The API server validates a custom resource against the `openAPIV3Schema` of the served version
// of its CRD, a *structural* schema, and then prunes (or, with strict field validation, rejects)
// every field the schema does not specify (Kubernetes docs, "Field pruning" and "Controlling
// pruning" in custom-resource-definitions; apiextensions-apiserver pkg/apiserver/schema/pruning).
// The schema is turned into a JSON Schema with the same meaning and compiled with ajv, on first
// use of a kind only:
//   - `additionalProperties: false` on every object node that neither has additionalProperties
//     (a map) nor `x-kubernetes-preserve-unknown-fields: true`: those are the fields pruning drops;
//   - `x-kubernetes-int-or-string: true` accepts an integer or a string, nothing else;
//   - `x-kubernetes-embedded-resource: true` (and the root) always allows apiVersion, kind and
//     metadata, and metadata is checked as an ObjectMeta (by the caller's built-in schema);
//   - `nullable: true` allows null; OpenAPI's boolean exclusiveMinimum/Maximum become numbers;
//   - allOf/anyOf/oneOf/not hold value validations only (a structural schema may not declare
//     fields there), so no strictness is added inside them;
//   - formats the API server checks (int32, int64, date-time, byte) are checked; any other format
//     is ignored, as the API server ignores formats it does not know.
// Not evaluated: CEL (`x-kubernetes-validations`) and list-type uniqueness.
import { createRequire } from "node:module";
import type { ErrorObject, ValidateFunction } from "ajv";
import type { KubeObject } from "../core/yaml.ts";

/** The keyword that hands a metadata value to the caller's ObjectMeta check. */
export const OBJECT_META_KEYWORD = "k8sObjectMeta";

/** Checks an ObjectMeta value; each problem's path starts with "metadata". */
export type ObjectMetaCheck = (metadata: unknown) => { path: string; message: string; reason: string }[];

export interface CrdVersion {
  group: string;
  kind: string;
  version: string;
  served: boolean;
  schema: Record<string, unknown> | undefined;
}

/** The versions a CustomResourceDefinition (apiextensions.k8s.io/v1) defines. */
export function crdVersions(crd: KubeObject): CrdVersion[] {
  if (crd.kind !== "CustomResourceDefinition" || crd.apiVersion !== "apiextensions.k8s.io/v1") return [];
  const spec = (crd.spec ?? {}) as { group?: string; names?: { kind?: string }; versions?: { name?: string; served?: boolean; schema?: { openAPIV3Schema?: Record<string, unknown> } }[] };
  const group = spec.group;
  const kind = spec.names?.kind;
  if (!group || !kind || !Array.isArray(spec.versions)) return [];
  return spec.versions
    .filter((v) => typeof v?.name === "string")
    .map((v) => ({ group, kind, version: v.name!, served: v.served !== false, schema: v.schema?.openAPIV3Schema }));
}

/** The CRD version that defines an apiVersion and kind, or the versions of that kind there are. */
export function findCrdVersion(crds: readonly KubeObject[], apiVersion: string, kind: string): { found: CrdVersion } | { others: string[] } | undefined {
  const slash = apiVersion.indexOf("/");
  if (slash < 0) return undefined;
  const group = apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  const others: string[] = [];
  for (const crd of crds) {
    for (const v of crdVersions(crd)) {
      if (v.group !== group || v.kind !== kind) continue;
      if (v.version === version && v.served) return { found: v };
      if (v.served) others.push(`${v.group}/${v.version}`);
    }
  }
  return others.length ? { others } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Structural schema -> JSON Schema.

const VALUE_KEYWORDS = ["enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "multipleOf", "required"] as const;
const CHECKED_FORMATS = new Set(["int32", "int64", "date-time", "byte"]);

type Node = Record<string, unknown>;

function convert(node: unknown, strict: boolean): Node {
  if (!node || typeof node !== "object" || Array.isArray(node)) return {};
  const n = node as Node;
  const out: Node = {};
  for (const key of VALUE_KEYWORDS) if (n[key] !== undefined) out[key] = n[key];
  if (n.exclusiveMinimum === true && typeof n.minimum === "number") {
    out.exclusiveMinimum = n.minimum;
    delete out.minimum;
  }
  if (n.exclusiveMaximum === true && typeof n.maximum === "number") {
    out.exclusiveMaximum = n.maximum;
    delete out.maximum;
  }
  if (typeof n.format === "string" && CHECKED_FORMATS.has(n.format)) out.format = n.format;
  const nullable = n.nullable === true;
  if (n["x-kubernetes-int-or-string"] === true) {
    out.oneOf = [{ type: "integer" }, { type: "string" }];
    if (nullable) out.oneOf = [...(out.oneOf as Node[]), { type: "null" }];
  } else {
    if (typeof n.type === "string") out.type = nullable ? [n.type, "null"] : n.type;
    for (const key of ["allOf", "anyOf", "oneOf"] as const) if (Array.isArray(n[key])) out[key] = (n[key] as unknown[]).map((b) => convert(b, false));
  }
  if (n.not) out.not = convert(n.not, false);
  if (nullable && Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
  if (n.properties && typeof n.properties === "object") {
    out.properties = Object.fromEntries(Object.entries(n.properties as Node).map(([k, v]) => [k, convert(v, strict)]));
  }
  if (n.items && typeof n.items === "object" && !Array.isArray(n.items)) out.items = convert(n.items, strict);
  if (typeof n.additionalProperties === "boolean") out.additionalProperties = n.additionalProperties;
  else if (n.additionalProperties && typeof n.additionalProperties === "object") out.additionalProperties = convert(n.additionalProperties, strict);
  const embedded = n["x-kubernetes-embedded-resource"] === true;
  if (embedded) {
    out.properties = { ...((out.properties as Node | undefined) ?? {}), apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { [OBJECT_META_KEYWORD]: true } };
  }
  const isObject = n.type === "object" || n.properties !== undefined || embedded;
  if (strict && isObject && n.additionalProperties === undefined && n["x-kubernetes-preserve-unknown-fields"] !== true) {
    out.properties ??= {};
    out.additionalProperties = false;
  }
  return out;
}

/** The JSON Schema of a CRD version's openAPIV3Schema: the root is an embedded resource. */
export function toJsonSchema(schema: Record<string, unknown>): Node {
  return convert({ ...schema, "x-kubernetes-embedded-resource": true }, true);
}

// ---------------------------------------------------------------------------------------------
// Compiling (ajv, loaded on first use: a render without custom resources never pays for it).

type AjvInstance = { compile: (schema: object) => ValidateFunction };
let ajvInstance: AjvInstance | undefined;
let metaCheck: ObjectMetaCheck = () => [];

function ajv(): AjvInstance {
  if (ajvInstance) return ajvInstance;
  const mod = createRequire(import.meta.url)("ajv") as { default?: unknown };
  const Ajv = (mod.default ?? mod) as new (options: object) => AjvInstance & {
    addKeyword: (def: object) => void;
    addFormat: (name: string, format: object) => void;
  };
  // optimize: false compiles the Rollout schema (a whole pod template, three times) in a third
  // of the time; the validator is no slower for objects of a few kilobytes.
  const instance = new Ajv({ allErrors: true, verbose: true, strict: false, code: { optimize: false } });
  const integer = (min: number, max: number) => ({ type: "number", validate: (n: number) => Number.isInteger(n) && n >= min && n <= max });
  instance.addFormat("int32", integer(-2147483648, 2147483647));
  instance.addFormat("int64", integer(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
  instance.addFormat("date-time", /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/);
  instance.addFormat("byte", /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  const validateMeta = function (this: unknown, _schema: unknown, data: unknown, _parent: unknown, cxt: { instancePath: string }): boolean {
    const problems = metaCheck(data);
    (validateMeta as unknown as { errors: Partial<ErrorObject>[] }).errors = problems.map((problem) => ({
      keyword: OBJECT_META_KEYWORD,
      instancePath: cxt.instancePath,
      params: { problem },
    }));
    return problems.length === 0;
  };
  instance.addKeyword({ keyword: OBJECT_META_KEYWORD, schemaType: "boolean", errors: true, validate: validateMeta });
  ajvInstance = instance;
  return instance;
}

const compiled = new WeakMap<object, ValidateFunction>();

/**
 * The validator of a CRD version's schema, compiled once per schema object. `objectMeta` checks
 * the metadata of the resource and of embedded resources (the built-in ObjectMeta schema).
 */
export function crdValidator(version: CrdVersion & { schema: Record<string, unknown> }, objectMeta: ObjectMetaCheck): ValidateFunction {
  metaCheck = objectMeta;
  let validate = compiled.get(version.schema);
  if (!validate) {
    validate = ajv().compile(toJsonSchema(version.schema));
    compiled.set(version.schema, validate);
  }
  return validate;
}
