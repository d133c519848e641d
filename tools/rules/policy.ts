// Policy on rendered objects: what every environment must satisfy whatever its sizes.
// Each rule is a small pure function from the rendered environments to findings.
import { quantity } from "../spec/load.ts";
import { allObjects, objectId, type Finding, type RenderedObject, type Rule, type RuleContext } from "./types.ts";
import { containersOf, findObject, labelSelectorMatches, LONG_RUNNING, parseImage, podTemplate, podTemplates, scalersOf, selectorMatches, type PodTemplate } from "./workloads.ts";

function finding(rule: string, ro: RenderedObject, path: string, message: string): Finding {
  return { rule: `policy/${rule}`, file: ro.source, path, message, env: ro.env, object: objectId(ro.object) };
}

function eachEnv(ctx: RuleContext, fn: (objects: RenderedObject[]) => Finding[]): Finding[] {
  return ctx.environments.flatMap((env) => fn(allObjects(env)));
}

export const resourcesRule: Rule = (ctx) =>
  eachEnv(ctx, (objects) =>
    podTemplates(objects).flatMap((t) =>
      containersOf(t).flatMap(({ container, path }) => {
        const out: Finding[] = [];
        const requests = container.resources?.requests ?? {};
        const limits = container.resources?.limits ?? {};
        for (const res of ["cpu", "memory"]) {
          if (requests[res] === undefined) out.push(finding("resources", t.ro, `${path}.resources.requests.${res}`, `container "${container.name}" has no ${res} request`));
          if (limits[res] === undefined) out.push(finding("resources", t.ro, `${path}.resources.limits.${res}`, `container "${container.name}" has no ${res} limit`));
          if (requests[res] !== undefined && limits[res] !== undefined && quantity(String(requests[res])) > quantity(String(limits[res]))) {
            out.push(finding("resources", t.ro, `${path}.resources.requests.${res}`, `container "${container.name}" requests ${requests[res]} ${res}, above its limit ${limits[res]}`));
          }
        }
        return out;
      }),
    ),
  );

export const imageTagRule: Rule = (ctx) =>
  eachEnv(ctx, (objects) =>
    podTemplates(objects).flatMap((t) =>
      containersOf(t).flatMap(({ container, path }) => {
        if (!container.image) return [finding("image-tag", t.ro, `${path}.image`, `container "${container.name}" has no image`)];
        const { tag, digest } = parseImage(container.image);
        if (digest) return [];
        if (!tag) return [finding("image-tag", t.ro, `${path}.image`, `image ${container.image} has no tag: pin a version (or a digest)`)];
        if (tag === "latest") return [finding("image-tag", t.ro, `${path}.image`, `image ${container.image} uses the mutable tag "latest": pin a version (or a digest)`)];
        return [];
      }),
    ),
  );

function effective(t: PodTemplate, container: { securityContext?: Record<string, unknown> }, key: string): unknown {
  return container.securityContext?.[key] ?? t.spec.securityContext?.[key];
}

export const securityRule: Rule = (ctx) =>
  eachEnv(ctx, (objects) =>
    podTemplates(objects).flatMap((t) =>
      containersOf(t).flatMap(({ container, path }) => {
        const out: Finding[] = [];
        const runAsUser = effective(t, container, "runAsUser");
        if (effective(t, container, "runAsNonRoot") !== true) {
          out.push(finding("security", t.ro, `${path}.securityContext.runAsNonRoot`, `container "${container.name}" may run as root: set runAsNonRoot: true (pod or container)`));
        } else if (runAsUser === 0) {
          out.push(finding("security", t.ro, `${path}.securityContext.runAsUser`, `container "${container.name}" sets runAsNonRoot but runAsUser 0`));
        }
        if (container.securityContext?.allowPrivilegeEscalation !== false) {
          out.push(finding("security", t.ro, `${path}.securityContext.allowPrivilegeEscalation`, `container "${container.name}" must set allowPrivilegeEscalation: false`));
        }
        if (container.securityContext?.privileged === true) {
          out.push(finding("security", t.ro, `${path}.securityContext.privileged`, `container "${container.name}" is privileged`));
        }
        return out;
      }),
    ),
  );

/**
 * Containers behind a Service (their pods are selected by one) must say when they are alive and
 * ready; every other long-running container (a queue worker, a scheduler) must say when it is
 * alive: a process that hangs without exiting is otherwise never restarted.
 */
export const probesRule: Rule = (ctx) =>
  eachEnv(ctx, (objects) => {
    const services = objects.filter((o) => o.object.kind === "Service");
    return podTemplates(objects).flatMap((t) => {
      const served = services.some((s) => selectorMatches((s.object.spec as { selector?: Record<string, string> } | undefined)?.selector, t.labels));
      return containersOf(t)
        .filter(({ init }) => !init)
        .flatMap(({ container, path }) => {
          const out: Finding[] = [];
          if (served && (container.ports?.length ?? 0) > 0) {
            if (!container.readinessProbe) out.push(finding("probes", t.ro, `${path}.readinessProbe`, `served container "${container.name}" has no readiness probe`));
            if (!container.livenessProbe) out.push(finding("probes", t.ro, `${path}.livenessProbe`, `served container "${container.name}" has no liveness probe`));
          } else if (LONG_RUNNING.has(t.ro.object.kind ?? "") && !container.livenessProbe) {
            out.push(finding("probes", t.ro, `${path}.livenessProbe`, `long-running container "${container.name}" has no liveness probe: if it hangs, nothing restarts it`));
          }
          return out;
        });
    });
  });

interface Hpa {
  scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string };
  minReplicas?: number;
  maxReplicas?: number;
  metrics?: { type?: string; resource?: { name?: string; target?: { type?: string; averageUtilization?: number } } }[];
}

/**
 * A memory utilization target must let the autoscaler scale down and must be reachable. Memory,
 * unlike CPU, does not spread over more pods: each pod holds about its request at rest (what a
 * request is meant to be). The autoscaler goes from n to n-1 pods only when
 * ceil(n * usage / target) < n and usage / target is off by more than the tolerance (0.1, the
 * controller manager's default), so from min+1 to min only if usage <= target * min / (min+1) and
 * usage < 0.9 * target: with pods at their request, the target must exceed
 * 100 * max((min+1) / min, 1 / 0.9) percent. And a target at or above the limit is never reached:
 * pods are OOM-killed first.
 */
function memoryTargetProblem(spec: Hpa, i: number, requests: number, limits: number): { path: string; message: string } | undefined {
  const target = spec.metrics?.[i]?.resource?.target?.averageUtilization;
  if (target === undefined || spec.metrics?.[i]?.resource?.target?.type !== "Utilization") return undefined;
  const min = spec.minReplicas ?? 1;
  const path = `spec.metrics[${i}].resource.target.averageUtilization`;
  const floor = 100 * Math.max((min + 1) / min, 1 / 0.9);
  if (target <= floor) {
    return { path, message: `memory target ${target}% of the request leaves no room to scale down: pods at their memory request would have to use under ${target}% x ${min}/${min + 1} of it to go from ${min + 1} to ${min} replicas (the target must be above ${Math.floor(floor)}%); scale on CPU, or raise the target` };
  }
  if (Number.isFinite(limits) && (target / 100) * requests >= limits) {
    return { path, message: `memory target ${target}% of the request is at or above the memory limit: pods are OOM-killed before the autoscaler adds any` };
  }
  return undefined;
}

export const autoscalerRule: Rule = (ctx) =>
  eachEnv(ctx, (objects) =>
    objects
      .filter((o) => o.object.kind === "HorizontalPodAutoscaler")
      .flatMap((hpa) => {
        const spec = (hpa.object.spec ?? {}) as Hpa;
        const ref = spec.scaleTargetRef;
        const target = ref?.kind && ref.name ? findObject(objects, ref.kind, ref.name) : undefined;
        if (!target) return [finding("autoscaler", hpa, "spec.scaleTargetRef", `scale target ${ref?.kind}/${ref?.name} is not rendered in this environment`)];
        const out: Finding[] = [];
        // The HPA finds the scale subresource by apiVersion and kind (a Rollout is not apps/v1).
        if (ref?.apiVersion !== undefined && ref.apiVersion !== target.object.apiVersion) {
          out.push(finding("autoscaler", hpa, "spec.scaleTargetRef.apiVersion", `is ${ref.apiVersion}, but ${objectId(target.object)} is ${target.object.apiVersion}: the autoscaler would not find its scale subresource`));
        }
        if ((spec.minReplicas ?? 1) > (spec.maxReplicas ?? 0)) out.push(finding("autoscaler", hpa, "spec.minReplicas", `minReplicas ${spec.minReplicas} is above maxReplicas ${spec.maxReplicas}`));
        const t = podTemplate(target);
        const resources = new Set((spec.metrics ?? []).filter((m) => m.type === "Resource").map((m) => m.resource?.name ?? ""));
        for (const res of resources) {
          for (const { container, path, init } of t ? containersOf(t) : []) {
            if (!init && container.resources?.requests?.[res] === undefined) {
              out.push(finding("autoscaler", target, `${path}.resources.requests.${res}`, `autoscaled on ${res} by ${objectId(hpa.object)}, but container "${container.name}" has no ${res} request`));
            }
          }
        }
        (spec.metrics ?? []).forEach((m, i) => {
          if (m.type !== "Resource" || m.resource?.name !== "memory" || !t) return;
          const mains = containersOf(t).filter(({ init }) => !init);
          const sum = (kind: "requests" | "limits") => mains.reduce((acc, { container }) => acc + quantity(String(container.resources?.[kind]?.memory ?? "NaN")), 0);
          const requests = sum("requests");
          const limits = sum("limits");
          if (!(requests > 0)) return;
          const problem = memoryTargetProblem(spec, i, requests, Number.isNaN(limits) ? Infinity : limits);
          if (problem) out.push(finding("autoscaler", hpa, problem.path, problem.message));
        });
        if ((target.object.spec as { replicas?: number } | undefined)?.replicas !== undefined) {
          out.push(finding("autoscaler", target, "spec.replicas", `replicas is set although ${objectId(hpa.object)} owns the count: every sync would reset it`));
        }
        return out;
      }),
  );

/** A disruption budget must leave room to evict one pod at the workload's minimum scale. */
export const disruptionBudgetRule: Rule = (ctx) =>
  eachEnv(ctx, (objects) =>
    objects
      .filter((o) => o.object.kind === "PodDisruptionBudget")
      .flatMap((pdb) => {
        const spec = (pdb.object.spec ?? {}) as { minAvailable?: number | string; maxUnavailable?: number | string; selector?: unknown };
        const selected = podTemplates(objects).filter((t) => labelSelectorMatches(spec.selector, t.labels));
        if (selected.length === 0) return [finding("disruption-budget", pdb, "spec.selector", "selects no pods rendered in this environment")];
        const out: Finding[] = [];
        if (spec.maxUnavailable !== undefined && (spec.maxUnavailable === 0 || spec.maxUnavailable === "0%")) {
          out.push(finding("disruption-budget", pdb, "spec.maxUnavailable", "maxUnavailable 0 blocks every node drain"));
        }
        if (spec.minAvailable !== undefined) {
          for (const t of selected) {
            const scalers = scalersOf(objects, t.ro);
            // A workload scaled to zero blocks no drain there; at one pod it does.
            const minScale = scalers.length ? Math.max(1, Math.min(...scalers.map((s) => s.min))) : ((t.ro.object.spec as { replicas?: number } | undefined)?.replicas ?? 1);
            const min = typeof spec.minAvailable === "string" && spec.minAvailable.endsWith("%") ? Math.ceil((Number.parseFloat(spec.minAvailable) / 100) * minScale) : Number(spec.minAvailable);
            if (min >= minScale) {
              out.push(finding("disruption-budget", pdb, "spec.minAvailable", `minAvailable ${spec.minAvailable} is not below the minimum scale ${minScale} of ${objectId(t.ro.object)}: a node drain would be blocked`));
            }
          }
        }
        return out;
      }),
  );

export const serviceRule: Rule = (ctx) =>
  eachEnv(ctx, (objects) => {
    const templates = podTemplates(objects);
    const out: Finding[] = [];
    for (const svc of objects.filter((o) => o.object.kind === "Service")) {
      const spec = (svc.object.spec ?? {}) as { selector?: Record<string, string>; ports?: { port?: number; targetPort?: number | string; name?: string }[]; type?: string };
      if (!spec.selector || spec.type === "ExternalName") continue;
      const pods = templates.filter((t) => selectorMatches(spec.selector, t.labels));
      if (pods.length === 0) {
        out.push(finding("service", svc, "spec.selector", `selects no pods rendered in this environment (${JSON.stringify(spec.selector)})`));
        continue;
      }
      (spec.ports ?? []).forEach((port, i) => {
        const target = port.targetPort ?? port.port;
        const exposes = pods.some((t) =>
          containersOf(t).some(({ container, init }) => !init && (container.ports ?? []).some((p) => (typeof target === "string" ? p.name === target : p.containerPort === target))),
        );
        if (!exposes) out.push(finding("service", svc, `spec.ports[${i}].targetPort`, `no selected container exposes port ${JSON.stringify(target)}`));
      });
    }
    for (const ing of objects.filter((o) => o.object.kind === "Ingress")) {
      const spec = (ing.object.spec ?? {}) as { rules?: { http?: { paths?: { backend?: { service?: { name?: string; port?: { name?: string; number?: number } } } }[] } }[]; defaultBackend?: { service?: { name?: string; port?: { name?: string; number?: number } } } };
      const backends: { path: string; service?: { name?: string; port?: { name?: string; number?: number } } }[] = [];
      if (spec.defaultBackend) backends.push({ path: "spec.defaultBackend.service", service: spec.defaultBackend.service });
      (spec.rules ?? []).forEach((rule, i) =>
        (rule.http?.paths ?? []).forEach((p, j) => backends.push({ path: `spec.rules[${i}].http.paths[${j}].backend.service`, service: p.backend?.service })),
      );
      for (const b of backends) {
        const svc = b.service?.name ? findObject(objects, "Service", b.service.name) : undefined;
        if (!svc) {
          out.push(finding("ingress", ing, `${b.path}.name`, `backend Service ${b.service?.name} is not rendered in this environment`));
          continue;
        }
        const ports = ((svc.object.spec as { ports?: { name?: string; port?: number }[] } | undefined)?.ports ?? []);
        const wanted = b.service?.port;
        const ok = ports.some((p) => (wanted?.name !== undefined ? p.name === wanted.name : p.port === wanted?.number));
        if (!ok) out.push(finding("ingress", ing, `${b.path}.port`, `Service ${svc.object.metadata?.name} has no port ${wanted?.name ?? wanted?.number}`));
      }
    }
    return out;
  });

/** The spec's singletons (Celery beat): exactly one replica, never two pods at once, never autoscaled. */
export const singletonRule: Rule = (ctx) => {
  const singletons = Object.values(ctx.spec.components).filter((c) => c.singleton);
  return eachEnv(ctx, (objects) =>
    singletons.flatMap((component) => {
      const ro = findObject(objects, component.workload.kind, component.workload.name);
      if (!ro) return [];
      const out: Finding[] = [];
      const spec = (ro.object.spec ?? {}) as { replicas?: number; strategy?: { type?: string } };
      if (spec.replicas !== 1) out.push(finding("singleton", ro, "spec.replicas", `a singleton must run exactly 1 replica, not ${spec.replicas ?? "unset (defaults apply, autoscalers may change it)"}`));
      if (ro.object.kind === "Deployment" && spec.strategy?.type !== "Recreate") {
        out.push(finding("singleton", ro, "spec.strategy.type", "a singleton needs strategy Recreate: a rolling update runs two pods at once"));
      }
      for (const scaler of scalersOf(objects, ro)) out.push(finding("singleton", scaler.ro, "spec.scaleTargetRef", `autoscales the singleton ${component.workload.name}`));
      return out;
    }),
  );
};

/** Secrets come from ExternalSecrets or SealedSecrets; a Secret with data in git is a leaked secret. */
export const plainSecretRule: Rule = (ctx) =>
  [...ctx.environments.flatMap(allObjects), ...ctx.argocd]
    .filter((o) => o.object.kind === "Secret")
    .flatMap((ro) => {
      const data = ro.object.data as Record<string, unknown> | undefined;
      const stringData = ro.object.stringData as Record<string, unknown> | undefined;
      if ((data && Object.keys(data).length) || (stringData && Object.keys(stringData).length)) {
        return [finding("plain-secret", ro, data && Object.keys(data).length ? "data" : "stringData", "a Secret with data is kept in git: use an ExternalSecret (or a SealedSecret)")];
      }
      return [];
    });

// libpq's client programs. Without a user name (PGUSER, -U/--username, user= or user@ in a
// connection string) libpq takes the name of the uid's passwd entry; the postgres images give
// unknown uids one only through their entrypoint's nss_wrapper, which `command` bypasses. So such
// a client run as a uid the image does not know makes "no attempt" (pg_isready exits 3) or fails
// "could not look up local user ID" (psql, pg_dump) on every try. Proven with the real pg_isready:
// test/real-programs.test.ts.
const LIBPQ_CLIENT = /(?:^|[\s;&|('"`/])(pg_isready|psql|pg_dump|pg_dumpall|pg_restore|pg_basebackup|createdb|dropdb|createuser|dropuser|vacuumdb|reindexdb|clusterdb|pgbench)(?=$|[\s;&|)'"`])/;
const NAMES_USER = /(?:^|[\s'"])(?:-U|--username)(?:[=\s]|\S)|\buser=\S|postgres(?:ql)?:\/\/[^/\s@]+@/;

export const libpqUserRule: Rule = (ctx) =>
  eachEnv(ctx, (objects) =>
    podTemplates(objects).flatMap((t) =>
      containersOf(t).flatMap(({ container, path }) => {
        if (!container.command?.length) return [];
        const uid = effective(t, container, "runAsUser");
        if (typeof uid !== "number" || uid === 0) return [];
        const text = [...container.command, ...(container.args ?? [])].join(" ");
        const client = LIBPQ_CLIENT.exec(text)?.[1];
        if (!client || NAMES_USER.test(text)) return [];
        if ((container.env ?? []).some((e) => e.name === "PGUSER")) return [];
        const fromEnvFrom = (container.envFrom ?? []).some((from) => {
          // A Secret's keys are not in git: it may hold PGUSER. A ConfigMap's are rendered.
          if (from.secretRef) return true;
          const cm = from.configMapRef?.name ? findObject(objects, "ConfigMap", from.configMapRef.name) : undefined;
          return Object.keys((cm?.object.data as Record<string, unknown> | undefined) ?? {}).some((k) => `${from.prefix ?? ""}${k}` === "PGUSER");
        });
        if (fromEnvFrom) return [];
        return [
          finding(
            "libpq-user",
            t.ro,
            `${path}.command`,
            `container "${container.name}" runs ${client} with \`command\` set (the image's entrypoint and its nss_wrapper bypassed) as uid ${uid} without a user name: libpq falls back to the uid's passwd entry, which the image does not have; set PGUSER or --username`,
          ),
        ];
      }),
    ),
  );

export const policyRules: Record<string, Rule> = {
  resources: resourcesRule,
  "image-tag": imageTagRule,
  security: securityRule,
  probes: probesRule,
  autoscaler: autoscalerRule,
  "disruption-budget": disruptionBudgetRule,
  service: serviceRule,
  singleton: singletonRule,
  "plain-secret": plainSecretRule,
  "libpq-user": libpqUserRule,
};
