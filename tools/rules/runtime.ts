// What the running application needs from its manifests, beyond "the objects are valid": every
// command of an image gets the settings it imports, uploads fit where they are buffered, and the
// directories the containers are told to write to are writable and shared where they must be.
// Small pure functions over rendered objects, like every rule family.
import { quantity } from "../spec/load.ts";
import { HASHED, hookPhases } from "./argocd.ts";
import { allObjects, objectId, type Finding, type RenderedObject, type Rule, type RuleContext } from "./types.ts";
import { containerEnv, containersOf, EnvObjects, envObjects, LONG_RUNNING, mountFor, parseImage, podTemplates, selectorMatches, type Container, type PodTemplate } from "./workloads.ts";

function finding(rule: string, ro: RenderedObject, path: string, message: string): Finding {
  return { rule: `runtime/${rule}`, file: ro.source, path, message, env: ro.env, object: objectId(ro.object) };
}

/** The generated application ConfigMap (spec `configMap`), whatever its hash suffix. */
function isAppConfig(ctx: RuleContext, name: string | undefined): boolean {
  return name === ctx.spec.configMap?.name || (name !== undefined && HASHED.test(name) && name.replace(HASHED, "") === ctx.spec.configMap?.name);
}

/**
 * Django imports settings.py for every command of the image (gunicorn, celery, migrate,
 * collectstatic), so a setting that every long-running container of an image gets is one that
 * settings.py may need to import at all: the init containers and hooks running that image need it
 * too. The application ConfigMap (spec `configMap`) is the exception by contract: settings.py
 * reads its keys only with a default, because the PreSync hook cannot read it (a hashed name that
 * does not exist yet on a first sync, argo-cd #9891).
 */
export const settingsEnvRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const objects = allObjects(env);
    const optional = new Set(objects.filter((o) => o.object.kind === "ConfigMap" && isAppConfig(ctx, o.object.metadata?.name)).flatMap((o) => Object.keys((o.object.data as object | undefined) ?? {})));
    const index = new EnvObjects(objects);
    const templates = index.podTemplates();
    // Each container's environment once per call (a container's path is fixed by its template).
    const envs = new Map<Container, ReturnType<typeof containerEnv>>();
    const envOf = (container: Container, path: string) => {
      let found = envs.get(container);
      if (!found) envs.set(container, (found = containerEnv(container, path, index)));
      return found;
    };
    const out: Finding[] = [];
    for (const image of ctx.spec.images) {
      const runs = (c: Container) => c.image !== undefined && parseImage(c.image).repository === image.name;
      const mains = templates
        .filter((t) => LONG_RUNNING.has(t.ro.object.kind ?? "") && hookPhases(t.ro).length === 0)
        .flatMap((t) => containersOf(t).filter(({ container, init }) => !init && runs(container)).map((c) => ({ t, ...c })));
      if (mains.length === 0) continue;
      const names = mains.map(({ container, path }) => new Set(envOf(container, path).vars.keys()));
      const required = [...names[0]!].filter((n) => !optional.has(n) && names.every((s) => s.has(n))).sort();
      const workloads = [...new Set(mains.map(({ t }) => t.ro.object.metadata?.name))].join(", ");
      for (const t of templates) {
        for (const { container, path } of containersOf(t).filter(({ container }) => runs(container))) {
          const { vars, open } = envOf(container, path);
          if (open) continue;
          const missing = required.filter((n) => !vars.has(n));
          if (missing.length === 0) continue;
          out.push(
            finding(
              "settings-env",
              t.ro,
              `${path}.env`,
              `container "${container.name}" runs ${image.name} without ${missing.join(", ")}, which every long-running container of that image gets (${workloads}): the image imports its settings for every command, so this one needs them too`,
            ),
          );
        }
      }
    }
    return out;
  });

/** nginx's size syntax (client_max_body_size): bytes, or k/K, m/M, g/G; 0 disables the limit. */
export function nginxSize(value: string): number | undefined {
  const m = /^\s*(\d+)([kKmMgG]?)\s*$/.exec(value);
  if (!m) return undefined;
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Number(m[1]) * unit;
}

const BODY_SIZE = "nginx.ingress.kubernetes.io/proxy-body-size";
/** Where a Python web application buffers a request body it does not keep in memory: Django's
 *  FILE_UPLOAD_TEMP_DIR, else tempfile.gettempdir()'s order (TMPDIR, TEMP, TMP, then /tmp). */
const TEMP_DIR_VARIABLES = ["FILE_UPLOAD_TEMP_DIR", "TMPDIR", "TEMP", "TMP"];

interface Backend {
  path: string;
  service?: string;
  port?: { name?: string; number?: number };
}

export function ingressBackends(ingress: RenderedObject): Backend[] {
  type B = { service?: { name?: string; port?: { name?: string; number?: number } } };
  const spec = (ingress.object.spec ?? {}) as { defaultBackend?: B; rules?: { http?: { paths?: { backend?: B }[] } }[] };
  const out: Backend[] = [];
  if (spec.defaultBackend?.service) out.push({ path: "spec.defaultBackend.service", service: spec.defaultBackend.service.name, port: spec.defaultBackend.service.port });
  (spec.rules ?? []).forEach((rule, i) =>
    (rule.http?.paths ?? []).forEach((p, j) => out.push({ path: `spec.rules[${i}].http.paths[${j}].backend.service`, service: p.backend?.service?.name, port: p.backend?.service?.port })),
  );
  return out;
}

/** The pod templates a Service selects, with the container port number its port leads to in each. */
export function serviceTargets(objects: RenderedObject[] | EnvObjects, serviceName: string, port?: { name?: string; number?: number }): { t: PodTemplate; port: number; protocol: string }[] {
  const index = envObjects(objects);
  const svc = index.find("Service", serviceName);
  const spec = (svc?.object.spec ?? {}) as { selector?: Record<string, string>; ports?: { name?: string; port?: number; targetPort?: number | string; protocol?: string }[] };
  if (!svc || !spec.selector) return [];
  const ports = (spec.ports ?? []).filter((p) => port === undefined || (port.name !== undefined ? p.name === port.name : p.port === port.number));
  const out: { t: PodTemplate; port: number; protocol: string }[] = [];
  for (const t of index.podTemplates().filter((t) => selectorMatches(spec.selector, t.labels))) {
    for (const p of ports) {
      const target = p.targetPort ?? p.port;
      const number =
        typeof target === "number"
          ? target
          : containersOf(t)
              .flatMap(({ container }) => container.ports ?? [])
              .find((cp) => cp.name === target)?.containerPort;
      if (number !== undefined) out.push({ t, port: number, protocol: p.protocol ?? "TCP" });
    }
  }
  return out;
}

/**
 * The ingress controller accepts request bodies up to proxy-body-size and passes them on; the web
 * application buffers an upload in its temp directory while it reads it. That directory must be
 * writable, on disk (a memory-backed emptyDir counts against the memory limit: one upload and
 * the pod is OOM-killed) and at least as large as one body: the emptyDir's sizeLimit and the
 * container's ephemeral-storage limit both evict the pod when exceeded.
 */
export const uploadSpaceRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const objects = allObjects(env);
    const index = new EnvObjects(objects);
    const out: Finding[] = [];
    for (const ing of objects.filter((o) => o.object.kind === "Ingress")) {
      const raw = ing.object.metadata?.annotations?.[BODY_SIZE];
      if (raw === undefined) continue;
      const body = nginxSize(raw);
      const at = `metadata.annotations["${BODY_SIZE}"]`;
      if (body === undefined) {
        out.push(finding("upload-space", ing, at, `"${raw}" is not an nginx size (digits with an optional k, m or g)`));
        continue;
      }
      for (const backend of ingressBackends(ing)) {
        if (!backend.service) continue;
        for (const { t, port } of serviceTargets(index, backend.service, backend.port)) {
          for (const { container, path } of containersOf(t).filter(({ container, init }) => !init && (container.ports ?? []).some((p) => p.containerPort === port))) {
            const problem = tempSpaceProblem(t, container, path, index, body);
            if (problem) {
              out.push(finding("upload-space", t.ro, problem.path, `${objectId(ing.object)} accepts request bodies of ${raw} (${BODY_SIZE}), but ${problem.message}`));
            }
          }
        }
      }
    }
    return out;
  });

function tempSpaceProblem(t: PodTemplate, container: Container, path: string, objects: EnvObjects, body: number): { path: string; message: string } | undefined {
  const { vars } = containerEnv(container, path, objects);
  const variable = TEMP_DIR_VARIABLES.map((n) => vars.get(n)).find((v) => v?.value);
  const dir = variable?.value ?? "/tmp";
  const where = variable ? `${variable.name}=${dir}` : "/tmp";
  const limit = container.resources?.limits?.["ephemeral-storage"];
  const ephemeral = limit === undefined ? Infinity : quantity(String(limit));
  if (body === 0) return { path: variable?.path ?? `${path}.volumeMounts`, message: `0 lifts the limit, and no temp space (${where}) holds a body of any size` };
  const found = mountFor(t, container, dir);
  if (!found) {
    if (container.securityContext?.readOnlyRootFilesystem === true) return { path: `${path}.volumeMounts`, message: `container "${container.name}" buffers uploads in ${where}, which is on its read-only root filesystem` };
    return ephemeral < body ? { path: `${path}.resources.limits.ephemeral-storage`, message: `container "${container.name}" buffers uploads in ${where} and may write only ${limit} (ephemeral-storage)` } : undefined;
  }
  const { volume, mount } = found;
  const vIndex = (t.spec.volumes ?? []).findIndex((v) => v.name === mount.name);
  const vPath = `${t.path}.volumes[${vIndex}]`;
  if (mount.readOnly || volume?.configMap || volume?.secret || volume?.projected || volume?.downwardAPI) {
    return { path: `${path}.volumeMounts`, message: `container "${container.name}" buffers uploads in ${where}, on the read-only volume "${mount.name}"` };
  }
  if (!volume?.emptyDir) return undefined;
  if (volume.emptyDir.medium === "Memory") {
    return { path: `${vPath}.emptyDir.medium`, message: `container "${container.name}" buffers uploads in ${where}, a memory-backed emptyDir: every upload counts against the memory limit` };
  }
  const size = volume.emptyDir.sizeLimit === undefined ? Infinity : quantity(String(volume.emptyDir.sizeLimit));
  if (size < body) return { path: `${vPath}.emptyDir.sizeLimit`, message: `container "${container.name}" buffers uploads in ${where}, an emptyDir limited to ${volume.emptyDir.sizeLimit}: the pod is evicted` };
  if (ephemeral < body) return { path: `${path}.resources.limits.ephemeral-storage`, message: `container "${container.name}" buffers uploads in ${where} and may write only ${limit} (ephemeral-storage)` };
  return undefined;
}

/** Variables that name a directory (or a file in one) the program writes to. */
const PATH_VARIABLE = /_(DIR|ROOT|FILE)$/;

/**
 * A container on a read-only root filesystem can write only to its writable volumes: a directory
 * its own env tells it to use (FILE_UPLOAD_TEMP_DIR, STATIC_ROOT, a heartbeat file) must be on one. And when
 * an init container and a main container of one pod are told the same directory (collectstatic
 * writes STATIC_ROOT, the server then reads it), they must see the same volume there: each
 * container has its own root filesystem, so anything else loses the init container's output.
 */
export const pathsRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const objects = new EnvObjects(allObjects(env));
    const out: Finding[] = [];
    for (const t of objects.podTemplates()) {
      const seen: { container: Container; path: string; init: boolean; name: string; value: string; at: string; volume: string | undefined }[] = [];
      for (const { container, path, init } of containersOf(t)) {
        const { vars } = containerEnv(container, path, objects);
        const own = `${path}.env[`;
        for (const v of vars.values()) {
          // Only the container's own env: a shared ConfigMap tells every container the same
          // directories, including those that never write there.
          if (!v.value?.startsWith("/") || !v.path.startsWith(own) || !PATH_VARIABLE.test(v.name)) continue;
          const dir = v.name.endsWith("_FILE") ? v.value.replace(/\/[^/]*$/, "") || "/" : v.value;
          const found = mountFor(t, container, dir);
          const readOnlyVolume = found && (found.mount.readOnly || found.volume?.configMap || found.volume?.secret || found.volume?.projected || found.volume?.downwardAPI);
          if (container.securityContext?.readOnlyRootFilesystem === true && (!found || readOnlyVolume)) {
            out.push(finding("paths", t.ro, v.path, `container "${container.name}" is told to write to ${v.value} (${v.name}), which is ${found ? `on the read-only volume "${found.mount.name}"` : "on its read-only root filesystem"}`));
          }
          seen.push({ container, path, init, name: v.name, value: v.value, at: v.path, volume: found ? `${found.mount.name}:${found.mount.subPath ?? ""}${found.rest}` : undefined });
        }
      }
      for (const i of seen.filter((s) => s.init)) {
        for (const m of seen.filter((s) => !s.init && s.name === i.name && s.value === i.value)) {
          if (i.volume === undefined || i.volume !== m.volume) {
            out.push(
              finding(
                "paths",
                t.ro,
                m.at,
                `init container "${i.container.name}" and container "${m.container.name}" both use ${m.value} (${m.name}) but do not share a volume there: what the init container writes is lost`,
              ),
            );
          }
        }
      }
    }
    return out;
  });

export const runtimeRules: Record<string, Rule> = {
  "settings-env": settingsEnvRule,
  "upload-space": uploadSpaceRule,
  paths: pathsRule,
};
