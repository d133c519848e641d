// What a pod names must exist: the ConfigMaps, Secrets and claims it reads, and the ports its
// probes ask for.
import { allObjects, objectId, type Finding, type RenderedObject, type Rule } from "./types.ts";
import { containersOf, createdKeys, podReferences, podTemplates, type Container } from "./workloads.ts";

function finding(rule: string, ro: RenderedObject, path: string, message: string): Finding {
  return { rule: `references/${rule}`, file: ro.source, path, message, env: ro.env, object: objectId(ro.object) };
}

/**
 * A pod that reads a ConfigMap, Secret or claim that does not exist never starts
 * (CreateContainerConfigError, or stuck ContainerCreating). Either Application of the
 * environment may create it (the data Application exists for what the app reads), an
 * ExternalSecret or SealedSecret counts for the Secret it writes; a reference Kubernetes may
 * skip says so itself (`optional: true`).
 */
export const configReferencesRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const objects = allObjects(env);
    const created = new Set(objects.flatMap((o) => createdKeys(o.object)));
    return podTemplates(objects).flatMap((t) =>
      podReferences(t)
        .filter((ref) => !ref.optional && !created.has(`${ref.kind}/${ref.name}`))
        .map((ref) =>
          finding("config", t.ro, ref.path, `${ref.kind} ${ref.name} is created by neither Application of ${env.env}: create it here (an ExternalSecret or SealedSecret for a Secret) or mark the reference optional`),
        ),
    );
  });

type Probe = { httpGet?: { port?: number | string }; tcpSocket?: { port?: number | string }; grpc?: { port?: number } };

/**
 * A probe's port must be a port of its own container: a name that is not declared fails every
 * probe. A number need not be declared (containerPort is informational: the kubelet probes the
 * pod's IP whatever the list says), so it is a finding only when the container declares ports and
 * none is that number: most often a probe left behind when the port changed.
 */
export const probePortsRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) =>
    podTemplates(allObjects(env)).flatMap((t) =>
      containersOf(t).flatMap(({ container, path }) => {
        const c = container as Container & { startupProbe?: unknown };
        const ports = c.ports ?? [];
        const out: Finding[] = [];
        for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"] as const) {
          const probe = c[kind] as Probe | undefined;
          if (!probe) continue;
          for (const [handler, port] of [["httpGet", probe.httpGet?.port], ["tcpSocket", probe.tcpSocket?.port], ["grpc", probe.grpc?.port]] as const) {
            if (port === undefined) continue;
            const named = typeof port === "string" && !/^\d+$/.test(port);
            const ok = named ? ports.some((p) => p.name === port) : ports.length === 0 || ports.some((p) => p.containerPort === Number(port));
            if (!ok) {
              const declared = ports.map((p) => (p.name ? `${p.name} (${p.containerPort})` : String(p.containerPort))).join(", ") || "none";
              out.push(finding("probe-port", t.ro, `${path}.${kind}.${handler}.port`, `container "${container.name}" has no port ${JSON.stringify(port)} (declared: ${declared})`));
            }
          }
        }
        return out;
      }),
    ),
  );

export const referenceRules: Record<string, Rule> = {
  config: configReferencesRule,
  "probe-port": probePortsRule,
};
