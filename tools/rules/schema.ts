// Strict schema validation of rendered objects: the upstream schemas of kubernetes-models,
// @kubernetes-models/argo-cd and @kubernetes-models/external-secrets, plus unknown fields.
//
// Those packages ship their schemas only as precompiled ajv "standalone" code (one module per
// OpenAPI definition under _schemas/), and that code accepts unknown fields. So strictness comes
// in two passes over each object, both derived from the shipped modules:
//   1. the package's own validate function reports types, required fields, enums, formats;
//   2. a field walk checks every key against the properties those same modules check. Each
//      compiled function is read once (lazily, per definition actually reached) for the
//      properties it visits (`void 0!==data.name&&(validateN(data.name, ...`), the items of an
//      array (`for(let i0 ...)validateN(data[i0]`), the values of a map (`for(let key0 in data)`)
//      and the definitions it delegates to ($ref wrappers, oneOf branches). A function that only
//      checks "object" with no properties is free-form (RawExtension, JSON, preserve-unknown-fields),
//      a map (additionalProperties) is free-form in its keys: neither is ever flagged.
// Validators and field shapes are loaded on first use of a kind and cached for the process.
import { existsSync, readFileSync, readdirSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { KubeObject } from "../core/yaml.ts";
import { crdValidator, findCrdVersion, OBJECT_META_KEYWORD } from "./crd-schema.ts";
import { allObjects, objectId, type Finding, type Rule } from "./types.ts";

export type SchemaProblemReason = "unknown-field" | "invalid" | "unknown-kind";

export interface SchemaProblem {
  /** Dotted with [index] for lists, e.g. spec.template.spec.containers[0].imagee; "" for the whole object. */
  path: string;
  message: string;
  reason: SchemaProblemReason;
}

/** The packages whose models carry schemas, in lookup order. */
const MODEL_PACKAGES = ["kubernetes-models", "@kubernetes-models/argo-cd", "@kubernetes-models/external-secrets"] as const;

const HERE = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------
// Finding packages and schema modules on disk (node resolution, without the packages' "exports",
// which only offer "import" conditions).

const packageDirs = new Map<string, string | null>();

function findPackage(name: string, fromDir: string): string | undefined {
  const cacheKey = `${fromDir}\0${name}`;
  const cached = packageDirs.get(cacheKey);
  if (cached !== undefined) return cached ?? undefined;
  let found: string | null = null;
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) {
      found = realpathSync(candidate);
      break;
    }
    if (dirname(dir) === dir) break;
  }
  packageDirs.set(cacheKey, found);
  return found ?? undefined;
}

/** Resolves an import specifier of a compiled schema module to an absolute file. */
function resolveSchemaImport(specifier: string, fromFile: string): string {
  const withJs = (p: string) => (p.endsWith(".js") ? p : `${p}.js`);
  if (specifier.startsWith(".")) return withJs(resolve(dirname(fromFile), specifier));
  const parts = specifier.split("/");
  const nameLength = specifier.startsWith("@") ? 2 : 1;
  const pkg = parts.slice(0, nameLength).join("/");
  const dir = findPackage(pkg, dirname(fromFile));
  if (!dir) throw new Error(`schema module ${fromFile} imports ${specifier}, which cannot be found`);
  return withJs(join(dir, ...parts.slice(nameLength)));
}

// ---------------------------------------------------------------------------------------------
// Reading the compiled ajv code for field shapes.

interface ParsedModule {
  text: string;
  exported: string;
  functions: Map<string, string>;
  /** Local name of an imported validate -> absolute file of that module. */
  imports: Map<string, string>;
  /** wrapperN_validate -> validateM (ajv's wrappers for recursive references). */
  aliases: Map<string, string>;
}

const modules = new Map<string, ParsedModule>();

function parseModule(file: string): ParsedModule {
  let parsed = modules.get(file);
  if (parsed) return parsed;
  const text = readFileSync(file, "utf8");
  const exported = /export const validate=([A-Za-z_$][\w$]*);/.exec(text)?.[1];
  if (!exported) throw new Error(`${file} does not look like a compiled kubernetes-models schema`);
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/import\{validate as ([A-Za-z_$][\w$]*)\}from"([^"]+)"/g)) imports.set(m[1]!, resolveSchemaImport(m[2]!, file));
  const aliases = new Map<string, string>();
  for (const m of text.matchAll(/\b(wrapper\d+_validate)=([A-Za-z_$][\w$]*)/g)) aliases.set(m[1]!, m[2]!);
  const functions = new Map<string, string>();
  const starts = [...text.matchAll(/function ([A-Za-z_$][\w$]*)\(data,/g)];
  starts.forEach((m, i) => functions.set(m[1]!, text.slice(m.index, starts[i + 1]?.index ?? text.length)));
  parsed = { text, exported, functions, imports, aliases };
  modules.set(file, parsed);
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// Loading the compiled validators, synchronously and one module at a time.
//
// The modules are ES modules and this API is synchronous, so they are linked here rather than by
// import(): each module's three kinds of import statement (the shared formats, an ajv runtime
// helper, another schema module's validate) are bound to values this file provides, and the
// module body is evaluated as a function. Imports of other schema modules become functions that
// load their module on first call, so only the definitions a kind reaches are ever evaluated and
// cycles between definitions need no special care. require() of these ESM files is not an option:
// tsx's require hook rewrites them to CommonJS, whose resolution their packages do not export.

interface ValidateRuntime {
  formats: Record<string, unknown>;
  helpers: Record<string, unknown>;
}

function exportTarget(entry: unknown): string | undefined {
  if (typeof entry === "string") return entry;
  if (entry && typeof entry === "object") {
    const conditions = entry as Record<string, unknown>;
    return exportTarget(conditions.import ?? conditions.default);
  }
  return undefined;
}

/** The ajv formats and runtime helpers the compiled code imports from @kubernetes-models/validate. */
async function loadValidateRuntime(): Promise<ValidateRuntime> {
  const models = findPackage("kubernetes-models", HERE);
  const dir = models && findPackage("@kubernetes-models/validate", models);
  if (!dir) throw new Error("kubernetes-models and its @kubernetes-models/validate are not installed (run pnpm install)");
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { exports?: Record<string, unknown> };
  const entry = exportTarget(manifest.exports?.["."]);
  const helperPattern = exportTarget(manifest.exports?.["./runtime/*"]);
  if (!entry || !helperPattern) throw new Error(`unexpected exports in ${join(dir, "package.json")}`);
  const index = (await import(pathToFileURL(join(dir, entry)).href)) as { formats?: Record<string, unknown> };
  if (!index.formats) throw new Error("@kubernetes-models/validate exports no formats");
  const helpers: Record<string, unknown> = {};
  // The only helper the compiled schemas of these packages import (minLength/maxLength).
  for (const name of ["ucs2length"]) {
    helpers[name] = ((await import(pathToFileURL(join(dir, helperPattern.replace("*", name))).href)) as { default: unknown }).default;
  }
  return { formats: index.formats, helpers };
}

const runtime = await loadValidateRuntime();
const linked = new Map<string, ValidateFunction>();

function linkedValidate(file: string): ValidateFunction {
  let validate = linked.get(file);
  if (validate) return validate;
  const mod = parseModule(file);
  const unsupported: string[] = [];
  const body = mod.text.replace(/import(\{[^}]*\}|\s*[A-Za-z_$][\w$]*\s*)from"([^"]+)";?/g, (statement, what: string, specifier: string) => {
    const named = /^\{validate as ([A-Za-z_$][\w$]*)\}$/.exec(what);
    if (named) {
      // A live binding to the other module's validate, loaded on first call.
      const local = named[1]!;
      return `let ${local}$f;function ${local}(d,o){const f=${local}$f??=__link(${JSON.stringify(mod.imports.get(local))});const r=f(d,o);${local}.errors=f.errors;return r}`;
    }
    if (what === "{formats}" && specifier === "@kubernetes-models/validate") return "";
    const helper = /^@kubernetes-models\/validate\/runtime\/([\w-]+)$/.exec(specifier)?.[1];
    if (helper && helper in runtime.helpers && /^\s*[A-Za-z_$][\w$]*\s*$/.test(what)) return `const ${what.trim()}=__helpers[${JSON.stringify(helper)}];`;
    unsupported.push(statement);
    return statement;
  });
  const code = body.replace(`export const validate=${mod.exported};`, `__exports.validate=${mod.exported};`);
  if (unsupported.length || /(?:^|[;}])\s*export\s*(?:const|let|var|function|class|default|\{)/.test(code)) {
    throw new Error(`cannot link ${file}: unsupported ${unsupported[0] ?? "export"}`);
  }
  const exports: { validate?: ValidateFunction } = {};
  const evaluate = new Function("formats", "__helpers", "__link", "__exports", `"use strict";${code}\n//# sourceURL=${pathToFileURL(file).href}`) as (
    formats: unknown,
    helpers: unknown,
    link: (file: string) => ValidateFunction,
    exports: { validate?: ValidateFunction },
  ) => void;
  evaluate(runtime.formats, runtime.helpers, linkedValidate, exports);
  validate = exports.validate;
  if (typeof validate !== "function") throw new Error(`${file} exports no validate function`);
  linked.set(file, validate);
  return validate;
}

/** What one compiled function checks of the value it is given. Child shapes are keys, "file#fn". */
interface RawFunction {
  props: Map<string, string | null>;
  items: string | null;
  values: string | null;
  /** Iterates the keys (additionalProperties): any key is allowed. */
  map: boolean;
  /** Checks for an object but names no property: free-form. */
  freeObject: boolean;
  delegates: string[];
}

const IDENT = "[A-Za-z_$][\\w$]*";
const STRING = '"(?:[^"\\\\]|\\\\.)*"';
const PROP_CALL = new RegExp(`void 0!==data(?:\\.(${IDENT})|\\[(${STRING})\\])&&\\((${IDENT})\\(data[.[]`, "g");
const PROP_ANY = new RegExp(`\\bdata(?:\\.(${IDENT})|\\[(${STRING})\\])`, "g");
const ITEMS_CALL = new RegExp(`for\\(let i0=0;i0<len0;i0\\+\\+\\)(${IDENT})\\(data\\[i0\\]`);
const VALUES_CALL = new RegExp(`for\\(let key0 in data\\)(${IDENT})\\(data\\[key0\\]`);
const DELEGATE_CALL = new RegExp(`(${IDENT})\\(data,\\{instancePath,`, "g");
const DELEGATE_CALL_ONE = new RegExp(DELEGATE_CALL.source);

function rawFunction(key: string): RawFunction {
  const hash = key.lastIndexOf("#");
  const file = key.slice(0, hash);
  const mod = parseModule(file);
  const body = mod.functions.get(key.slice(hash + 1));
  const free: RawFunction = { props: new Map(), items: null, values: null, map: false, freeObject: true, delegates: [] };
  if (body === undefined) return free;
  // ajv inlines some subschemas into a function (data1, data2, ...): not read here, so such a
  // function (only JSONSchemaProps of CRDs has them) is taken as free-form rather than guessed.
  if (/\bdata\d+\b/.test(body)) return free;
  const target = (name: string): string => {
    const local = mod.aliases.get(name) ?? name;
    const imported = mod.imports.get(local);
    if (imported) return `${imported}#${parseModule(imported).exported}`;
    return `${file}#${local}`;
  };
  const unquote = (dotted: string | undefined, quoted: string | undefined) => dotted ?? (JSON.parse(quoted!) as string);
  const props = new Map<string, string | null>();
  for (const m of body.matchAll(PROP_CALL)) props.set(unquote(m[1], m[2]), target(m[3]!));
  // Every other property the function reads (required checks) is known too, without a shape.
  for (const m of body.matchAll(PROP_ANY)) {
    const name = unquote(m[1], m[2]);
    if (name !== "length" && !props.has(name)) props.set(name, null);
  }
  const items = ITEMS_CALL.exec(body)?.[1];
  const values = VALUES_CALL.exec(body)?.[1];
  const map = /for\(let key0 in data\)/.test(body);
  const isObject = body.includes('"object"==typeof data');
  return {
    props,
    items: items ? target(items) : null,
    values: values ? target(values) : null,
    map,
    freeObject: isObject && props.size === 0 && !map && !DELEGATE_CALL_ONE.test(body),
    delegates: [...body.matchAll(DELEGATE_CALL)].map((m) => target(m[1]!)),
  };
}

/** A definition's field shape with its delegates merged in; children are resolved on first use. */
interface Flat {
  /** Known properties of an object (null when it names none). */
  props: Map<string, Shape | null> | null;
  /** Keys beyond props are allowed (maps, free-form objects). */
  open: boolean;
  items: Shape | null;
  values: Shape | null;
  /** Schema modules whose exported definition this shape is (itself or through delegates). */
  definitions: string[];
  /** Keys already looked up in those definitions' type declarations. */
  declared: Map<string, boolean>;
}

const shapes = new Map<string, Shape>();

function shapeOf(key: string): Shape {
  let shape = shapes.get(key);
  if (!shape) {
    shape = new Shape(key);
    shapes.set(key, shape);
  }
  return shape;
}

class Shape {
  private flat: Flat | undefined;
  constructor(readonly key: string) {}

  resolve(): Flat {
    this.flat ??= flatten(this.key, new Set());
    return this.flat;
  }
}

function flatten(key: string, seen: Set<string>): Flat {
  seen.add(key);
  const raw = rawFunction(key);
  const flat: Flat = {
    props: raw.props.size ? new Map([...raw.props].map(([name, child]) => [name, child ? shapeOf(child) : null])) : null,
    open: raw.map || raw.freeObject,
    items: raw.items ? shapeOf(raw.items) : null,
    values: raw.values ? shapeOf(raw.values) : null,
    definitions: [],
    declared: new Map(),
  };
  const file = key.slice(0, key.lastIndexOf("#"));
  if (key === `${file}#${parseModule(file).exported}`) flat.definitions.push(file);
  for (const delegate of raw.delegates) {
    if (seen.has(delegate)) continue;
    const other = flatten(delegate, seen);
    if (other.props) {
      flat.props ??= new Map();
      for (const [name, child] of other.props) if (!flat.props.has(name)) flat.props.set(name, child);
    }
    flat.open ||= other.open;
    flat.items ??= other.items;
    flat.values ??= other.values;
    flat.definitions.push(...other.definitions);
  }
  return flat;
}

// ---------------------------------------------------------------------------------------------
// Kinds: apiVersion + kind -> the package's compiled validator and the root shape.

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  /** With ajv's verbose option (the CRD validators): the schema holding the failed keyword. */
  parentSchema?: unknown;
}

type ValidateFunction = ((data: unknown) => boolean) & { errors?: AjvError[] | null };

interface CompiledKind {
  validate: ValidateFunction;
  shape: Shape;
}

const API_VERSION = /^(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?\/)?v\d+(?:(?:alpha|beta)\d+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

/** apiVersion -> kind -> compiled (null: no schema), without building a key string per object. */
const kinds = new Map<string, Map<string, CompiledKind | null>>();

function modelPackageDirs(): string[] {
  return MODEL_PACKAGES.map((name) => findPackage(name, HERE)).filter((dir): dir is string => dir !== undefined);
}

/** The compiled schema module of a top-level kind, from the model class that uses it. */
function schemaFileOf(apiVersion: string, kind: string): string | undefined {
  if (!API_VERSION.test(apiVersion) || !KIND.test(kind)) return undefined;
  for (const dir of modelPackageDirs()) {
    const model = join(dir, ...apiVersion.split("/"), `${kind}.js`);
    if (!existsSync(model)) continue;
    const text = readFileSync(model, "utf8");
    // Only models with this exact apiVersion and kind: v1/Container.js is a type, not a kind.
    if (!text.includes(`this.apiVersion=${JSON.stringify(apiVersion)}`) || !text.includes(`this.kind=${JSON.stringify(kind)}`)) continue;
    const schema = /import\{validate\}from"([^"]+)"/.exec(text)?.[1];
    if (schema) return resolveSchemaImport(schema, model);
  }
  return undefined;
}

function compiledKind(apiVersion: string, kind: string): CompiledKind | undefined {
  let byKind = kinds.get(apiVersion);
  if (!byKind) kinds.set(apiVersion, (byKind = new Map()));
  let compiled = byKind.get(kind);
  if (compiled === undefined) {
    const file = schemaFileOf(apiVersion, kind);
    if (file) {
      compiled = { validate: linkedValidate(file), shape: shapeOf(`${file}#${parseModule(file).exported}`) };
    } else {
      compiled = null;
    }
    byKind.set(kind, compiled);
  }
  return compiled ?? undefined;
}

// The model classes (one .js and .d.ts per definition, in <group>/<version>/ or v1/) are only
// consulted on error paths: to hint at the right apiVersion of an unknown kind, and for properties
// the compiled code does not check (the generator drops properties named "description" from some
// definitions, e.g. AppProjectSpec, ProjectRole, SyncWindow) but the type declarations declare.

let modelDirCache: { dir: string; files: Set<string> }[] | undefined;

/** Directories of model classes, listed once. */
function modelDirs(): { dir: string; files: Set<string> }[] {
  if (!modelDirCache) {
    const found: { dir: string; files: Set<string> }[] = [];
    const visit = (dir: string, depth: number) => {
      const entries = readdirSync(dir, { withFileTypes: true });
      found.push({ dir, files: new Set(entries.filter((e) => e.isFile()).map((e) => e.name)) });
      if (depth < 2) for (const e of entries) if (e.isDirectory() && !e.name.startsWith("_") && e.name !== "node_modules") visit(join(dir, e.name), depth + 1);
    };
    for (const dir of modelPackageDirs()) visit(dir, 0);
    modelDirCache = found;
  }
  return modelDirCache;
}

/** kind -> apiVersions that define it. */
function knownApiVersions(kind: string): string[] {
  const versions: string[] = [];
  for (const { dir, files } of modelDirs()) {
    if (!files.has(`${kind}.js`)) continue;
    const m = /this\.apiVersion="([^"]+)"\}static\{this\.kind="([^"]+)"/.exec(readFileSync(join(dir, `${kind}.js`), "utf8"));
    if (m && m[2] === kind) versions.push(m[1]!);
  }
  return versions;
}

const declarationCache = new Map<string, Set<string> | null>();

/** Top-level property names of the interface a compiled schema module's model declares. */
function declaredProperties(schemaFile: string): Set<string> | null {
  const cached = declarationCache.get(schemaFile);
  if (cached !== undefined) return cached;
  let result: Set<string> | null = null;
  const base = schemaFile.slice(schemaFile.lastIndexOf("/") + 1, -".js".length);
  search: for (const { dir, files } of modelDirs()) {
    for (const name of files) {
      if (!name.endsWith(".d.ts") || !base.endsWith(name.slice(0, -".d.ts".length))) continue;
      const model = join(dir, name.replace(/\.d\.ts$/, ".js"));
      if (!files.has(name.replace(/\.d\.ts$/, ".js"))) continue;
      const schema = /import\{validate\}from"([^"]+)"/.exec(readFileSync(model, "utf8"))?.[1];
      if (!schema || resolveSchemaImport(schema, model) !== schemaFile) continue;
      result = interfaceKeys(readFileSync(join(dir, name), "utf8"));
      break search;
    }
  }
  declarationCache.set(schemaFile, result);
  return result;
}

/** The quoted keys at the top level of the first exported interface of a .d.ts. */
function interfaceKeys(dts: string): Set<string> | null {
  const start = dts.search(/export interface I\w+ \{/);
  if (start < 0) return null;
  const keys = new Set<string>();
  let depth = 0;
  for (let i = dts.indexOf("{", start); i < dts.length; i++) {
    const c = dts[i];
    if (c === "/" && dts[i + 1] === "*") i = dts.indexOf("*/", i + 2) + 1;
    else if (c === "/" && dts[i + 1] === "/") i = dts.indexOf("\n", i);
    else if (c === "{" || c === "(" || c === "[") depth++;
    else if (c === "}" || c === ")" || c === "]") {
      if (--depth === 0) break;
    } else if (c === '"') {
      const end = dts.indexOf('"', i + 1);
      if (depth === 1 && /^\??:/.test(dts.slice(end + 1, end + 3))) keys.add(dts.slice(i + 1, end));
      i = end;
    }
    if (i < 0) break;
  }
  return keys;
}

/** Whether the definitions behind a shape declare a key that their compiled code leaves out. */
function declaredOnly(flat: Flat, key: string): boolean {
  let known = flat.declared.get(key);
  if (known === undefined) {
    known = flat.definitions.some((file) => declaredProperties(file)?.has(key) ?? false);
    flat.declared.set(key, known);
  }
  return known;
}

function unknownKind(object: KubeObject): SchemaProblem {
  const { apiVersion, kind } = object;
  if (typeof kind !== "string" || kind === "") return { path: "kind", message: `no schema for ${String(apiVersion ?? "(no apiVersion)")} (no kind): kind is missing`, reason: "unknown-kind" };
  if (typeof apiVersion !== "string" || apiVersion === "") return { path: "apiVersion", message: `no schema for (no apiVersion) ${kind}: apiVersion is missing`, reason: "unknown-kind" };
  const others = knownApiVersions(kind);
  if (others.length) return { path: "apiVersion", message: `no schema for ${apiVersion} ${kind}; ${kind} is known as ${others.join(", ")}`, reason: "unknown-kind" };
  return { path: "kind", message: `no schema for ${apiVersion} ${kind}`, reason: "unknown-kind" };
}

// ---------------------------------------------------------------------------------------------
// Paths and messages.

function formatPath(segments: readonly (string | number)[]): string {
  let out = "";
  for (const s of segments) out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  return out;
}

/** JSON pointer of an ajv error -> segments, numbers where the data holds an array. */
function pointerSegments(root: unknown, pointer: string): (string | number)[] {
  if (pointer === "") return [];
  const segments: (string | number)[] = [];
  let at: unknown = root;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(at) && /^\d+$/.test(key)) {
      segments.push(Number(key));
      at = at[Number(key)];
    } else {
      segments.push(key);
      at = at !== null && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined;
    }
  }
  return segments;
}

function valueAt(root: unknown, segments: readonly (string | number)[]): unknown {
  let at = root;
  for (const s of segments) at = at !== null && typeof at === "object" ? (at as Record<string | number, unknown>)[s] : undefined;
  return at;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  if (typeof value === "number") return `${Number.isInteger(value) ? "integer" : "number"} ${value}`;
  return `${typeof value} ${String(value)}`;
}

function expectation(error: AjvError): string {
  if (error.keyword === "type") return String(error.params.type);
  if (error.keyword === "format") return `${String(error.params.format)} string`;
  if (error.keyword === "enum") return `one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  return error.keyword;
}

function messageOf(error: AjvError, value: unknown): string {
  const p = error.params;
  switch (error.keyword) {
    case "type":
      return `expected ${String(p.type)}, got ${describe(value)}`;
    case "enum":
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}; got ${describe(value)}`;
    case "format":
      return `must be a valid ${String(p.format)}; got ${describe(value)}`;
    case "minLength":
      return `must be at least ${String(p.limit)} characters long`;
    case "maxLength":
      return `must be at most ${String(p.limit)} characters long`;
    case "pattern":
      return `must match ${String(p.pattern)}; got ${describe(value)}`;
    case "minProperties":
      return `must have at least ${String(p.limit)} entries`;
    case "maxProperties":
      return `must have at most ${String(p.limit)} entries`;
    default:
      return `${error.keyword} ${JSON.stringify(p)}`;
  }
}

/** ajv errors -> problems; the branch errors of a oneOf (IntOrString, Quantity) fold into one. */
function schemaErrors(object: unknown, errors: readonly AjvError[]): SchemaProblem[] {
  const kept: AjvError[] = [];
  const folded = new Map<AjvError, string[]>();
  for (const error of errors) {
    if (error.keyword === "oneOf") {
      const branches: string[] = [];
      const prefix = `${error.instancePath}/`;
      for (let i = kept.length - 1; i >= 0; i--) {
        const e = kept[i]!;
        if (e.instancePath !== error.instancePath && !e.instancePath.startsWith(prefix)) continue;
        if (e.instancePath === error.instancePath) branches.unshift(expectation(e));
        kept.splice(i, 1);
      }
      folded.set(error, branches);
    }
    kept.push(error);
  }
  return kept.map((error) => {
    if (error.keyword === "required") {
      const segments = [...pointerSegments(object, error.instancePath), String(error.params.missingProperty)];
      return { path: formatPath(segments), message: `missing required field "${String(error.params.missingProperty)}"`, reason: "invalid" };
    }
    const segments = pointerSegments(object, error.instancePath);
    const value = valueAt(object, segments);
    const branches = folded.get(error);
    const message = branches ? `expected ${branches.length ? branches.join(" or ") : "one of several shapes"}, got ${describe(value)}` : messageOf(error, value);
    return { path: formatPath(segments), message, reason: "invalid" };
  });
}

/** Optimal string alignment distance (Levenshtein with adjacent transpositions). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

function nearest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const lower = name.toLowerCase();
  for (const candidate of known) {
    const score = candidate.toLowerCase() === lower ? 0.5 : distance(lower, candidate.toLowerCase());
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
  return bestScore <= limit ? best : undefined;
}

// ---------------------------------------------------------------------------------------------
// The unknown-field walk.

function walk(value: unknown, shape: Shape, path: (string | number)[], out: SchemaProblem[]): void {
  if (value === null || typeof value !== "object") return;
  const flat = shape.resolve();
  // Scalars have no fields to check: they are skipped here rather than in a call each (most of
  // an object's nodes are scalars; this walk runs over every rendered object).
  if (Array.isArray(value)) {
    const items = flat.items;
    if (!items) return;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === null || typeof item !== "object") continue;
      path.push(i);
      walk(item, items, path, out);
      path.pop();
    }
    return;
  }
  const { props, values, open } = flat;
  if (!props && !values) return;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const child = props?.get(key);
    if (child === undefined) {
      if (values) {
        const v = record[key];
        if (v === null || typeof v !== "object") continue;
        path.push(key);
        walk(v, values, path, out);
        path.pop();
      } else if (!open && props && !declaredOnly(flat, key)) {
        const declared = flat.definitions.flatMap((file) => [...(declaredProperties(file) ?? [])]);
        const guess = nearest(key, [...props.keys(), ...declared]);
        const at = formatPath([...path, key]);
        out.push({ path: at, message: `unknown field "${key}"${guess ? `; did you mean "${guess}"?` : ""}`, reason: "unknown-field" });
      }
      continue;
    }
    if (child) {
      const v = record[key];
      if (v === null || typeof v !== "object") continue;
      path.push(key);
      walk(v, child, path, out);
      path.pop();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// API.

/**
 * Validates one object against the upstream schema of its apiVersion and kind, strictly:
 * schema errors (types, required fields, enums, formats) and unknown fields, each with its path.
 * An apiVersion/kind without a schema is itself a problem. Returns [] when the object is valid.
 */
export function validateStrict(object: KubeObject, crds: readonly KubeObject[] = []): SchemaProblem[] {
  const { apiVersion, kind } = object;
  const compiled = typeof apiVersion === "string" && typeof kind === "string" ? compiledKind(apiVersion, kind) : undefined;
  if (compiled) {
    const problems = compiled.validate(object) ? [] : schemaErrors(object, compiled.validate.errors ?? []);
    walk(object, compiled.shape, [], problems);
    return problems;
  }
  // Kinds the schema packages do not know: the CRDs the repository vendors (or renders).
  const custom = crds.length && typeof apiVersion === "string" && typeof kind === "string" ? findCrdVersion(crds, apiVersion, kind) : undefined;
  if (custom && "found" in custom) {
    const version = custom.found;
    if (!version.schema) return [];
    let validate;
    try {
      validate = crdValidator({ ...version, schema: version.schema }, objectMetaProblems);
    } catch (error) {
      return [{ path: "kind", message: `the CRD schema of ${apiVersion} ${kind} cannot be compiled: ${(error as Error).message}`, reason: "unknown-kind" }];
    }
    return validate(object) ? [] : crdProblems(object, (validate.errors ?? []) as AjvError[]);
  }
  if (custom) return [{ path: "apiVersion", message: `no schema for ${apiVersion} ${kind}; the vendored CRD serves ${custom.others.join(", ")}`, reason: "unknown-kind" }];
  return [unknownKind(object)];
}

/** Whether a schema package knows this apiVersion and kind (they answer before any vendored CRD). */
export function hasPackagedSchema(apiVersion: string, kind: string): boolean {
  return compiledKind(apiVersion, kind) !== undefined;
}

/** ObjectMeta of a custom resource (or an embedded one), checked by the built-in schema. */
function objectMetaProblems(metadata: unknown): SchemaProblem[] {
  return validateStrict({ apiVersion: "v1", kind: "ConfigMap", metadata } as KubeObject).filter((p) => p.path === "metadata" || p.path.startsWith("metadata."));
}

/** ajv errors of a CRD validator -> problems: additionalProperties is an unknown field. */
function crdProblems(object: KubeObject, errors: readonly AjvError[]): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const rest: AjvError[] = [];
  for (const error of errors) {
    const segments = pointerSegments(object, error.instancePath);
    if (error.keyword === "additionalProperties") {
      const key = String(error.params.additionalProperty);
      const known = Object.keys(((error.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object);
      const guess = nearest(key, known);
      out.push({ path: formatPath([...segments, key]), message: `unknown field "${key}"${guess ? `; did you mean "${guess}"?` : ""}`, reason: "unknown-field" });
    } else if (error.keyword === OBJECT_META_KEYWORD) {
      const problem = error.params.problem as SchemaProblem;
      out.push({ ...problem, path: formatPath(segments) + problem.path.slice("metadata".length) });
    } else {
      // anyOf folds like oneOf: its branches' errors become one "expected A or B".
      rest.push(error.keyword === "anyOf" ? { ...error, keyword: "oneOf" } : error);
    }
  }
  return [...schemaErrors(object, rest), ...out];
}

/** Strict schema validation of every rendered object (app and data layers) and of argocd/. */
export const schemaRule: Rule = (ctx) => {
  const findings: Finding[] = [];
  const objects = [...ctx.environments.flatMap(allObjects), ...ctx.argocd];
  // Vendored CRDs, and CRDs an overlay renders itself.
  const crds = [...(ctx.crds ?? []), ...objects.filter((o) => o.object.kind === "CustomResourceDefinition")].map((o) => o.object);
  for (const ro of objects) {
    for (const problem of validateStrict(ro.object, crds)) {
      findings.push({
        rule: `schema/${problem.reason}`,
        file: ro.source,
        path: problem.path,
        message: problem.message,
        ...(ro.env === undefined ? {} : { env: ro.env }),
        object: objectId(ro.object),
      });
    }
  }
  return findings;
};
