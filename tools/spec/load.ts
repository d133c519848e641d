import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import type { z } from "zod";
import { didYouMean, unknownName, UsageError, ValidationError, type Problem } from "../core/errors.ts";
import { specJsonSchema } from "./reference.ts";
import { parseYaml } from "../core/yaml.ts";
import { declaredHosts, fillTemplate, managedSettings, primaryHost } from "./model.ts";
import { specSchema, type Spec } from "./schema.ts";
import { stageIds } from "./stages.ts";

/** Environment names must start with a letter: an integer-like key would reorder the promotion order. */
const ENV_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".").replace(/\.\[/g, "[");
}

type Issue = z.core.$ZodIssue;

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let at = raw;
  for (const p of path) at = at && typeof at === "object" ? (at as Record<PropertyKey, unknown>)[p] : undefined;
  return at;
}

/** The value the user wrote, echoed in the message: `; got "automatic"` (scalars only, cut at 60 characters). */
function got(value: unknown): string {
  if (value === null || ["string", "number", "boolean"].includes(typeof value)) {
    const text = JSON.stringify(value);
    return `; got ${text.length > 60 ? `${text.slice(0, 57)}..."` : text}`;
  }
  if (Array.isArray(value)) return "; got a list";
  if (value && typeof value === "object") return "; got a mapping";
  return "";
}

/**
 * zod's issues as problems a user can act on (issue 10.10): an unknown key with the key it most
 * likely meant and the keys allowed there; a wrong value echoed, with the nearest allowed option;
 * a missing key said to be missing; a union (`replicas: {min, max}` or a number) reported through
 * the branch that got furthest, not as "Invalid input". Every issue, in one pass.
 */
function zodProblems(file: string, error: z.ZodError, raw: unknown): Problem[] {
  const out: Problem[] = [];
  const visit = (issue: Issue, base: readonly PropertyKey[]) => {
    const path = [...base, ...issue.path];
    const value = valueAt(raw, path);
    if (issue.code === "unrecognized_keys") {
      const known = keysAt(path);
      for (const key of issue.keys) {
        const hint = known.length ? `${didYouMean(key, known)} (keys here: ${known.join(", ")})` : "";
        out.push({ file, path: pathOf([...path, key]), message: `unknown key ${JSON.stringify(key)}${hint}` });
      }
      return;
    }
    if (issue.code === "invalid_union") {
      const discriminator = (issue as { options?: unknown[]; discriminator?: string }).options;
      if (discriminator) {
        const options = discriminator.map(String);
        out.push({ file, path: pathOf(path), message: `${value === undefined ? "missing; " : ""}expected one of ${options.map((o) => JSON.stringify(o)).join(", ")}${got(value)}${typeof value === "string" ? didYouMean(value, options) : ""}` });
        return;
      }
      // The branch that got furthest into the value is the one the user meant.
      const branches = issue.errors.filter((b) => b.length);
      const depth = (b: Issue[]) => Math.max(...b.map((i) => i.path.length));
      const best = branches.sort((x, y) => depth(y) - depth(x))[0];
      if (best && depth(best) > 0) {
        for (const inner of best) visit(inner, path);
        return;
      }
    }
    if (value === undefined && valueAt(raw, path.slice(0, -1)) !== undefined && (issue.code === "invalid_type" || issue.code === "invalid_value")) {
      const expected = issue.code === "invalid_type" ? issue.expected : `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
      out.push({ file, path: pathOf(path), message: `missing: required here (expected ${expected})` });
      return;
    }
    let message = issue.message.replace(/^Invalid input: /, "");
    if (issue.code === "invalid_value" && typeof value === "string") message += `${got(value)}${didYouMean(value, issue.values.map(String))}`;
    else message += got(value);
    out.push({ file, path: pathOf(path), message });
  };
  for (const issue of error.issues) visit(issue, []);
  return out;
}

/** The keys the schema allows at `path` (every variant's, for a union), from the spec's JSON Schema. */
function keysAt(path: readonly PropertyKey[]): string[] {
  type Node = { properties?: Record<string, Node>; additionalProperties?: boolean | Node; items?: Node; anyOf?: Node[]; oneOf?: Node[] };
  let nodes: Node[] = [specJsonSchema() as Node];
  const expand = (n: Node): Node[] => [n, ...(n.anyOf ?? []).flatMap(expand), ...(n.oneOf ?? []).flatMap(expand)];
  for (const seg of path) {
    nodes = nodes.flatMap(expand).flatMap((n) => {
      if (typeof seg === "number") return n.items ? [n.items] : [];
      if (n.properties?.[String(seg)]) return [n.properties[String(seg)]!];
      return n.additionalProperties && typeof n.additionalProperties === "object" ? [n.additionalProperties] : [];
    });
  }
  return [...new Set(nodes.flatMap(expand).flatMap((n) => Object.keys(n.properties ?? {})))];
}

/** Rules across fields that a schema of single fields cannot say; every problem is returned. */
export function specProblems(spec: Spec, file: string): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ file, path, message });
  const layers = spec.layers.map((l) => l.name);
  const knownLayer = (path: string, layer: string) => {
    if (!layers.includes(layer)) add(path, unknownName("layer", layer, layers));
  };
  const primaries = spec.layers.filter((l) => l.images);
  if (primaries.length !== 1) add("layers", `exactly one layer must have images: true (the primary: its overlay holds the image tags); found ${primaries.length}`);
  spec.layers.forEach((l, i) => {
    if (spec.layers.findIndex((o) => o.name === l.name) !== i) add(`layers[${i}].name`, `layer ${l.name} is listed twice`);
  });
  if (spec.configMap) knownLayer("configMap.layer", spec.configMap.layer);
  if (spec.connection) knownLayer("connection.layer", spec.connection.layer);
  for (const [name, service] of Object.entries(spec.data)) {
    knownLayer(`data.${name}.layer`, service.layer);
    if (service.managed && Object.keys(service.managed.values).length && !service.configMap) add(`data.${name}.configMap`, "a managed service's values need the ConfigMap they are written into");
  }
  for (const [name, component] of Object.entries(spec.components)) {
    if (component.singleton && component.scaler) add(`components.${name}.scaler`, "a singleton runs exactly one replica: it has no scaler");
  }
  const envNames = Object.keys(spec.environments);
  if (envNames.length === 0) add("environments", "at least one environment is required");
  const seenNamespaces = new Map<string, string>();
  const seenHosts = new Map<string, string>();
  for (const [envName, env] of Object.entries(spec.environments)) {
    const at = `environments.${envName}`;
    if (!ENV_NAME.test(envName)) add(at, "environment names must start with a letter (lower-case letters, digits, '-')");
    const otherNs = seenNamespaces.get(env.namespace);
    if (otherNs) add(`${at}.namespace`, `namespace ${env.namespace} is already used by ${otherNs}`);
    seenNamespaces.set(env.namespace, envName);
    if (env.host !== undefined && env.hosts !== undefined) add(`${at}.hosts`, "give either host (the base serves one host) or hosts (base host -> this environment's), not both");
    for (const host of declaredHosts(env)) {
      const otherHost = seenHosts.get(host);
      if (otherHost && otherHost !== envName) add(env.host === host ? `${at}.host` : `${at}.hosts`, `host ${host} is already used by ${otherHost}`);
      seenHosts.set(host, envName);
    }
    if (spec.connection && Object.keys(spec.connection.hostSettings).length && !primaryHost(env)) add(at, "connection.hostSettings need the environment's host: set host (or hosts)");
    for (const layer of Object.keys(env.extras)) knownLayer(`${at}.extras.${layer}`, layer);
    for (const [service, mode] of Object.entries(env.data)) {
      const declared = spec.data[service];
      if (!declared) {
        add(`${at}.data.${service}`, `${unknownName("data service", service, Object.keys(spec.data), "declared in data")}`);
        continue;
      }
      if (mode.mode !== "managed") continue;
      if (!declared.managed) {
        add(`${at}.data.${service}.mode`, `data.${service} has no managed: section (its component and values), so it cannot be managed`);
        continue;
      }
      const settings = managedSettings(spec, service, env)!;
      for (const [key, template] of Object.entries(declared.managed.values)) {
        const { missing } = fillTemplate(template, settings);
        if (missing.length) add(`${at}.data.${service}`, `${key} needs ${missing.map((m) => `"${m}"`).join(", ")}: set it here or in data.${service}.managed.defaults`);
      }
    }
    for (const [name, settings] of Object.entries(env.components)) {
      const cat = `${at}.components.${name}`;
      const component = spec.components[name];
      if (!component) {
        add(cat, unknownName("component", name, Object.keys(spec.components), "declared components"));
        continue;
      }
      if (settings.resources && !component.container) add(`${cat}.resources`, `components.${name} names no container whose resources to set`);
      const replicas = settings.replicas;
      if (replicas === undefined) continue;
      const kind = component.workload.kind;
      if (kind === "Job" || kind === "CronJob") add(`${cat}.replicas`, `a ${kind} has no replicas`);
      else if (component.singleton) {
        if (replicas !== 1) add(`${cat}.replicas`, `a singleton runs exactly one replica, not ${typeof replicas === "number" ? replicas : `${replicas.min}-${replicas.max}`}`);
      } else if (component.scaler && typeof replicas === "number") {
        add(`${cat}.replicas`, `components.${name} is scaled by ${component.scaler.kind} ${component.scaler.name}: give its bounds, replicas: {min, max}`);
      } else if (!component.scaler && typeof replicas !== "number") {
        add(`${cat}.replicas`, `components.${name} has no scaler: give a fixed count (replicas: N), or name its scaler in components.${name}.scaler`);
      } else if (component.scaler?.kind === "HorizontalPodAutoscaler" && typeof replicas !== "number" && replicas.min < 1) {
        add(`${cat}.replicas.min`, "a HorizontalPodAutoscaler's minReplicas is at least 1 (scale to zero needs a KEDA ScaledObject)");
      }
    }
  }
  const [first] = envNames;
  const firstGates = first ? spec.environments[first]!.gates : undefined;
  if (firstGates?.soak !== undefined) add(`environments.${first}.gates.soak`, `${first} is the first stage: there is no previous stage for a tag to soak in`);
  if (firstGates?.checks.length) add(`environments.${first}.gates.checks`, `${first} is the first stage: there is no previous stage whose commit the checks would be read from`);
  return problems;
}

const V1 = "is the spec v1 form";

/**
 * Forms of the v1 spec, each named with the v2 form that replaces it (a fork upgrading its spec
 * reads what to write instead of a list of unknown keys).
 */
export function legacyProblems(raw: unknown, file: string): Problem[] {
  const out: Problem[] = [];
  const add = (path: string, message: string) => out.push({ file, path, message });
  if (!raw || typeof raw !== "object") return out;
  const spec = raw as Record<string, unknown>;
  const obj = (v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
  if (typeof spec.configMap === "string") add("configMap", `configMap: ${spec.configMap} ${V1}: write configMap: {layer: <layer of its configMapGenerator>, name: ${spec.configMap}}`);
  const connection = obj(spec.connection);
  for (const key of ["hostKey", "portKey", "redis"]) {
    if (connection && key in connection) add(`connection.${key}`, `connection.${key} ${V1}: connection values of a managed store are templates in data.<service>.managed.values (e.g. data.postgres.managed.values: {DATABASE_HOST: "{host}", DATABASE_PORT: "{port}"})`);
  }
  for (const [name, c] of Object.entries(obj(spec.components) ?? {})) {
    const component = obj(c);
    if (!component) continue;
    if ("kind" in component) {
      const kind = String(component.kind);
      const hint =
        kind === "hook-job"
          ? "workload: {kind: Job, name: …}"
          : kind === "singleton"
            ? "workload: {kind: Deployment, name: …}, singleton: true"
            : "workload: {kind: Deployment, name: …}, scaler: {kind: HorizontalPodAutoscaler, name: …}";
      add(`components.${name}.kind`, `kind: ${kind} ${V1}: a component names its workload and what scales it: ${hint}`);
    } else if (typeof component.workload === "string") {
      add(`components.${name}.workload`, `workload: ${component.workload} ${V1}: write workload: {kind: Deployment, name: ${component.workload}}`);
    }
  }
  for (const [envName, e] of Object.entries(obj(spec.environments) ?? {})) {
    const env = obj(e);
    if (!env) continue;
    const at = `environments.${envName}`;
    if ("database" in env) add(`${at}.database`, `database: ${V1}: data services are a list; declare data.postgres at the top (layer, configMap, managed: {component, values}) and write data: {postgres: {mode: managed, host: …}} here`);
    if ("redis" in env) add(`${at}.redis`, `redis: ${V1}: declare data.redis at the top (layer, configMap, managed: {component, values}) and write data: {redis: {mode: managed, host: …}} here`);
    if ("secretsPath" in env) add(`${at}.secretsPath`, `secretsPath ${V1}: write secretKey: "${String(env.secretsPath)}/{key}" (a template over the base key's varying part)`);
  }
  return out;
}

export { quantity } from "./quantity.ts";

/**
 * Each problem with the line of its path in `text` (the deepest part of the path that exists).
 * The locator (and the full YAML parser under it) is loaded only when there are problems.
 */
export async function withLines(problems: Problem[], text: string): Promise<Problem[]> {
  if (!problems.some((p) => p.line === undefined && p.path)) return problems;
  const { locateLine } = await import("../check/locate.ts");
  return problems.map((p) => (p.line !== undefined || !p.path ? p : { ...p, line: locateLine(text, undefined, undefined, p.path) }));
}

/**
 * `__proto__` as a key: zod copies records by assignment, which sets the prototype instead of
 * adding the key, so an environment named `__proto__` would vanish without a word.
 */
function protoKeyProblems(value: unknown, file: string, path: string[] = []): Problem[] {
  if (!value || typeof value !== "object") return [];
  const out: Problem[] = [];
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (key === "__proto__") out.push({ file, path: [...path, key].join("."), message: '"__proto__" cannot be used as a name here (JavaScript reserves it); choose another name' });
    else out.push(...protoKeyProblems(child, file, [...path, key]));
  }
  return out;
}

/** A record without a prototype: looking up `constructor` or `toString` finds nothing unless the spec names it. */
function plainRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, record);
}

/** Parses and validates a spec's text; throws a ValidationError listing every problem. */
export function parseSpec(text: string, file: string): Spec {
  const raw = parseYaml(text, file);
  const reserved = protoKeyProblems(raw, file);
  if (reserved.length) throw new ValidationError(reserved);
  const legacy = legacyProblems(raw, file);
  const parsed = specSchema.safeParse(raw ?? {});
  if (!parsed.success || legacy.length) {
    // The v1 forms are named once, with what replaces them; zod's issues under them would only repeat it.
    const under = (p: Problem) => legacy.some((l) => p.path === l.path || p.path.startsWith(`${l.path}.`) || l.path.startsWith(`${p.path}.`) || (l.path.startsWith("components.") && p.path === l.path.replace(/\.(kind|workload)$/, ".workload")));
    const zod = parsed.success ? [] : zodProblems(file, parsed.error, raw).filter((p) => !under(p));
    throw new ValidationError([...legacy, ...zod]);
  }
  const spec = parsed.data;
  spec.components = plainRecord(spec.components);
  spec.environments = plainRecord(spec.environments);
  spec.data = plainRecord(spec.data);
  for (const env of Object.values(spec.environments)) {
    env.config = plainRecord(env.config);
    env.components = plainRecord(env.components);
    env.data = plainRecord(env.data);
    env.extras = plainRecord(env.extras);
  }
  const problems = specProblems(spec, file);
  if (problems.length) throw new ValidationError(problems);
  return spec;
}

/** parseSpec for text that is not on disk (a spec at a git revision): the same problems, each with its line. */
export async function parseSpecWithLines(text: string, file: string): Promise<Spec> {
  try {
    return parseSpec(text, file);
  } catch (error) {
    if (error instanceof ValidationError) throw new ValidationError(await withLines(error.problems, text));
    throw error;
  }
}

export async function loadSpec(specFile: string, root: string): Promise<Spec> {
  const display = relative(root, specFile) || specFile;
  let text: string;
  try {
    text = await readFile(specFile, "utf8");
  } catch {
    throw new ValidationError([{ file: display, path: "", message: "the environments spec is missing" }]);
  }
  try {
    return parseSpec(text, display);
  } catch (error) {
    if (error instanceof ValidationError) throw new ValidationError(await withLines(error.problems, text));
    throw error;
  }
}

/**
 * The one environment a command takes as its argument (render, plan, history): a usage error
 * otherwise. An environment on several clusters is named by stage ("prod/prod-eu"); with
 * `wholeEnvironment`, its name stands for all its stages (the first is returned; see stagesOf).
 */
export function environmentArgument(spec: Spec, positionals: string[], wholeEnvironment = false): string {
  const ids = stageIds(spec);
  const [env, ...extra] = positionals;
  if (!env || extra.length) throw new UsageError(`expected one environment: ${ids.join(", ")}`);
  if (ids.includes(env)) return env;
  if (Object.hasOwn(spec.environments, env)) {
    if (wholeEnvironment) return env;
    throw new UsageError(`${env} runs on several clusters: name one of ${ids.filter((i) => i.startsWith(`${env}/`)).join(", ")}`);
  }
  throw new UsageError(unknownName("environment", env, ids));
}
