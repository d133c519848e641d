// Rules for the custom resources of the operators a repository commonly deploys with: what they
// name must exist in the same environment, and two controllers must not scale one workload.
// (Their schemas come from crds/; their pods, Secrets and scale targets are seen by the other
// families through workloads.ts: podTemplate, createdKeys, scalersOf.)
import { allObjects, objectId, type Finding, type RenderedObject, type Rule } from "./types.ts";
import { containersOf, findObject, podTemplate, selectorMatches } from "./workloads.ts";

function finding(rule: string, ro: RenderedObject, path: string, message: string): Finding {
  return { rule: `custom-resources/${rule}`, file: ro.source, path, message, env: ro.env, object: objectId(ro.object) };
}

interface RolloutSpec {
  workloadRef?: { kind?: string; name?: string };
  strategy?: {
    canary?: { canaryService?: string; stableService?: string; trafficRouting?: { nginx?: { stableIngress?: string; additionalStableIngresses?: string[] } } };
    blueGreen?: { activeService?: string; previewService?: string };
  };
}

/**
 * Argo Rollouts: the Services a strategy names must exist and select the Rollout's pods (the
 * controller only adds its rollouts-pod-template-hash to their selector: a Service selecting
 * other pods gets no endpoints), the NGINX stable Ingresses must exist, and so must a workloadRef.
 */
export const rolloutRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const objects = allObjects(env);
    return objects
      .filter((o) => o.object.kind === "Rollout" && o.object.apiVersion?.startsWith("argoproj.io/"))
      .flatMap((ro) => {
        const spec = (ro.object.spec ?? {}) as RolloutSpec;
        const out: Finding[] = [];
        let labels = podTemplate(ro)?.labels;
        const ref = spec.workloadRef;
        if (ref) {
          const target = ref.kind && ref.name ? findObject(objects, ref.kind, ref.name) : undefined;
          if (!target) out.push(finding("rollout", ro, "spec.workloadRef", `workload ${ref.kind}/${ref.name} is not rendered in this environment`));
          else labels = podTemplate(target)?.labels;
        }
        const services: [string, string | undefined][] = [
          ["spec.strategy.canary.canaryService", spec.strategy?.canary?.canaryService],
          ["spec.strategy.canary.stableService", spec.strategy?.canary?.stableService],
          ["spec.strategy.blueGreen.activeService", spec.strategy?.blueGreen?.activeService],
          ["spec.strategy.blueGreen.previewService", spec.strategy?.blueGreen?.previewService],
        ];
        for (const [path, name] of services) {
          if (!name) continue;
          const svc = findObject(objects, "Service", name);
          if (!svc) {
            out.push(finding("rollout", ro, path, `Service ${name} is not rendered in this environment`));
            continue;
          }
          const selector = (svc.object.spec as { selector?: Record<string, string> } | undefined)?.selector;
          if (labels && !selectorMatches(selector, labels)) out.push(finding("rollout", ro, path, `Service ${name} does not select this Rollout's pods (selector ${JSON.stringify(selector ?? {})})`));
        }
        const nginx = spec.strategy?.canary?.trafficRouting?.nginx;
        const ingresses: [string, string | undefined][] = [
          ["spec.strategy.canary.trafficRouting.nginx.stableIngress", nginx?.stableIngress],
          ...(nginx?.additionalStableIngresses ?? []).map((name, i): [string, string] => [`spec.strategy.canary.trafficRouting.nginx.additionalStableIngresses[${i}]`, name]),
        ];
        for (const [path, name] of ingresses) {
          if (name && !findObject(objects, "Ingress", name)) out.push(finding("rollout", ro, path, `Ingress ${name} is not rendered in this environment`));
        }
        return out;
      });
  });

interface ScaledObjectSpec {
  scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string };
  minReplicaCount?: number;
  maxReplicaCount?: number;
  triggers?: { type?: string }[];
}

/**
 * KEDA: the scale target exists; nothing else scales it (KEDA creates and owns an HPA for it,
 * keda-hpa-<name>: a second HPA or ScaledObject would fight it, and KEDA's webhook refuses a
 * workload that is already autoscaled); the bounds are ordered; the target does not set
 * spec.replicas (every sync would reset the count KEDA set); cpu and memory triggers need requests.
 */
export const scaledObjectRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const objects = allObjects(env);
    const scalers = objects.filter((o) => o.object.kind === "HorizontalPodAutoscaler" || (o.object.kind === "ScaledObject" && o.object.apiVersion?.startsWith("keda.sh/")));
    return scalers
      .filter((o) => o.object.kind === "ScaledObject")
      .flatMap((so) => {
        const spec = (so.object.spec ?? {}) as ScaledObjectSpec;
        const kind = spec.scaleTargetRef?.kind ?? "Deployment";
        const name = spec.scaleTargetRef?.name;
        const target = name ? findObject(objects, kind, name) : undefined;
        if (!target) return [finding("scaled-object", so, "spec.scaleTargetRef", `scale target ${kind}/${name} is not rendered in this environment`)];
        const out: Finding[] = [];
        const apiVersion = spec.scaleTargetRef?.apiVersion ?? "apps/v1";
        if (apiVersion !== target.object.apiVersion) {
          out.push(finding("scaled-object", so, "spec.scaleTargetRef.apiVersion", `is ${apiVersion}${spec.scaleTargetRef?.apiVersion ? "" : " (the default)"}, but ${objectId(target.object)} is ${target.object.apiVersion}: KEDA would not find its scale subresource`));
        }
        for (const other of scalers) {
          if (other === so) continue;
          const ref = (other.object.spec as ScaledObjectSpec | undefined)?.scaleTargetRef;
          const otherKind = ref?.kind ?? (other.object.kind === "ScaledObject" ? "Deployment" : undefined);
          if (ref?.name === name && otherKind === kind) {
            out.push(finding("scaled-object", so, "spec.scaleTargetRef", `${kind}/${name} is also scaled by ${objectId(other.object)}; KEDA creates its own HPA for a ScaledObject, so two autoscalers would fight`));
          }
        }
        if (spec.minReplicaCount !== undefined && spec.maxReplicaCount !== undefined && spec.minReplicaCount > spec.maxReplicaCount) {
          out.push(finding("scaled-object", so, "spec.minReplicaCount", `minReplicaCount ${spec.minReplicaCount} is above maxReplicaCount ${spec.maxReplicaCount}`));
        }
        if ((target.object.spec as { replicas?: number } | undefined)?.replicas !== undefined) {
          out.push(finding("scaled-object", target, "spec.replicas", `replicas is set although ${objectId(so.object)} owns the count: every sync would reset it`));
        }
        const t = podTemplate(target);
        for (const res of new Set((spec.triggers ?? []).map((tr) => tr.type).filter((ty): ty is string => ty === "cpu" || ty === "memory"))) {
          for (const { container, path, init } of t ? containersOf(t) : []) {
            if (!init && container.resources?.requests?.[res] === undefined) {
              out.push(finding("scaled-object", target, `${path}.resources.requests.${res}`, `scaled on ${res} by ${objectId(so.object)}, but container "${container.name}" has no ${res} request`));
            }
          }
        }
        return out;
      });
  });

/**
 * External Secrets: a namespaced store (secretStoreRef.kind SecretStore, the default) must be
 * rendered in the same environment, or the ExternalSecret never syncs and its Secret never
 * appears. A ClusterSecretStore is cluster-wide, installed once outside the repository (a
 * prerequisite, like the operator itself), and not judged here.
 */
export const externalSecretRule: Rule = (ctx) =>
  ctx.environments.flatMap((env) => {
    const objects = allObjects(env);
    return objects
      .filter((o) => o.object.kind === "ExternalSecret" && o.object.apiVersion?.startsWith("external-secrets.io/"))
      .flatMap((es) => {
        const ref = (es.object.spec as { secretStoreRef?: { kind?: string; name?: string } } | undefined)?.secretStoreRef;
        const kind = ref?.kind ?? "SecretStore";
        if (kind !== "SecretStore" || !ref?.name || findObject(objects, "SecretStore", ref.name)) return [];
        return [finding("external-secret", es, "spec.secretStoreRef.name", `SecretStore ${ref.name} is not rendered in this environment (a ClusterSecretStore would be kind: ClusterSecretStore)`)];
      });
  });

export const customResourceRules: Record<string, Rule> = {
  rollout: rolloutRule,
  "scaled-object": scaledObjectRule,
  "external-secret": externalSecretRule,
};
