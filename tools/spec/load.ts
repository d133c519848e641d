import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import type { z } from "zod";
import { UsageError, ValidationError, type Problem } from "../core/errors.ts";
import { parseYaml } from "../core/yaml.ts";
import { specSchema, type Spec } from "./schema.ts";
import { stageIds } from "./stages.ts";

/** Environment names must start with a letter: an integer-like key would reorder the promotion order. */
const ENV_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".").replace(/\.\[/g, "[");
}

function zodProblems(file: string, error: z.ZodError): Problem[] {
  return error.issues.map((issue) => ({ file, path: pathOf(issue.path), message: issue.message }));
}

/** Rules across fields that a schema of single fields cannot say; every problem is returned. */
export function specProblems(spec: Spec, file: string): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ file, path, message });
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
    const otherHost = seenHosts.get(env.host);
    if (otherHost) add(`${at}.host`, `host ${env.host} is already used by ${otherHost}`);
    seenHosts.set(env.host, envName);
    for (const [name, settings] of Object.entries(env.components)) {
      const cat = `${at}.components.${name}`;
      const component = spec.components[name];
      if (!component) {
        add(cat, `unknown component; declared components: ${Object.keys(spec.components).join(", ")}`);
        continue;
      }
      if (settings.replicas) {
        const { min, max } = settings.replicas;
        if (component.kind === "singleton" && (min !== 1 || max !== 1)) add(`${cat}.replicas`, `a singleton runs exactly one replica (min 1, max 1), not ${min}-${max}`);
        if (component.kind === "hook-job") add(`${cat}.replicas`, "a hook job has no replicas");
      }
    }
  }
  const [first] = envNames;
  const firstGates = first ? spec.environments[first]!.gates : undefined;
  if (firstGates?.soak !== undefined) add(`environments.${first}.gates.soak`, `${first} is the first stage: there is no previous stage for a tag to soak in`);
  if (firstGates?.checks.length) add(`environments.${first}.gates.checks`, `${first} is the first stage: there is no previous stage whose commit the checks would be read from`);
  const webs = Object.entries(spec.components).filter(([, c]) => c.kind === "web");
  if (webs.length > 1) add("components", `at most one web component is served by the Ingress; found ${webs.map(([n]) => n).join(", ")}`);
  return problems;
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
  const parsed = specSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ValidationError(zodProblems(file, parsed.error));
  const spec = parsed.data;
  spec.components = plainRecord(spec.components);
  spec.environments = plainRecord(spec.environments);
  for (const env of Object.values(spec.environments)) {
    env.config = plainRecord(env.config);
    env.components = plainRecord(env.components);
  }
  const problems = specProblems(spec, file);
  if (problems.length) throw new ValidationError(problems);
  return spec;
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
  throw new UsageError(`unknown environment "${env}"; environments: ${ids.join(", ")}`);
}
