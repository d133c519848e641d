// The environments spec (v2): one typed file from which `pnpm generate` writes every overlay and
// the Argo CD project and applications. The component model is open: a component names any
// workload of the base by kind and name, says what scales it (an HPA or a KEDA ScaledObject of any
// name, or a fixed replica count), and nothing about data services is required. Every field is
// described here (`.describe`): the JSON Schema and the spec reference are generated from it.
import { z } from "zod";
import { gatesSchema } from "./gates.ts";
import { quantity } from "./quantity.ts";
import { clustersSchema } from "./clusters.ts";

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label: lower-case letters, digits and '-', starting and ending alphanumeric")
  .max(63);
/** Kubernetes object names (DNS subdomain): ConfigMaps, Ingresses, workloads may contain dots. */
const objectName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a Kubernetes object name: lower-case letters, digits, '-' and '.'");
const dnsName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a DNS name");
/** An Ingress host: a DNS name, or a wildcard `*.` followed by one. */
const ingressHost = z
  .string()
  .max(253)
  .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a DNS name (or *.<DNS name>)");
const cpu = z.string().regex(/^(\d+m|\d+(\.\d+)?)$/, "must be a CPU quantity such as 250m or 1");
const memory = z.string().regex(/^\d+(Ki|Mi|Gi|Ti|k|M|G|T)?$/, "must be a memory quantity such as 512Mi or 1Gi");
const imageName = z
  .string()
  .regex(/^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/, "must be an image reference without tag or digest");
/** A repository-relative directory, e.g. base/app: no leading '/', no '..', no trailing '/'. */
const repoDir = z
  .string()
  .regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, "must be a repository-relative directory such as base/app (no '..', no leading or trailing '/')");
/** A path relative to an overlay directory (extras), e.g. node-pool.yaml or ../../components/spot. */
const overlayRelPath = z.string().regex(/^(?!\/)[A-Za-z0-9_.\/-]+$/, "must be a relative path (letters, digits, '.', '_', '-', '/')");
const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");
const port = z.number().int().min(1).max(65535);

const resourcesSchema = z
  .strictObject({
    requests: z.strictObject({ cpu, memory }).describe("What the scheduler reserves for the container."),
    limits: z.strictObject({ cpu, memory }).describe("The most the container may use (CPU is throttled, memory above it is killed)."),
  })
  .superRefine((r, ctx) => {
    for (const res of ["cpu", "memory"] as const) {
      if (quantity(r.requests[res]) > quantity(r.limits[res])) {
        ctx.addIssue({ code: "custom", path: ["requests", res], message: `request ${r.requests[res]} is above the limit ${r.limits[res]}` });
      }
    }
  })
  .describe("CPU and memory requests and limits of the component's container in this environment.");

/**
 * The apiVersion of the workload kinds generate knows; any other kind names its apiVersion.
 * Rollout: Argo Rollouts' CRD (argoproj.io/v1alpha1, argo-rollouts manifests/crds/rollout-crd.yaml).
 */
export const KNOWN_WORKLOAD_API: Record<string, string> = {
  Deployment: "apps/v1",
  StatefulSet: "apps/v1",
  DaemonSet: "apps/v1",
  Job: "batch/v1",
  CronJob: "batch/v1",
  Rollout: "argoproj.io/v1alpha1",
};
export const KNOWN_SCALER_API: Record<string, string> = {
  HorizontalPodAutoscaler: "autoscaling/v2",
  // KEDA's ScaledObject (keda.sh/v1alpha1): minReplicaCount may be 0 (scale to zero), unlike an HPA.
  ScaledObject: "keda.sh/v1alpha1",
};

const objectRef = (what: string) =>
  z.strictObject({
    apiVersion: z.string().min(1).optional().describe(`apiVersion of the ${what}; inferred for the kinds generate knows, required for others.`),
    kind: z.string().regex(/^[A-Z][A-Za-z0-9]*$/, "must be a Kubernetes kind such as Deployment").describe(`Kind of the ${what} in the base.`),
    name: objectName.describe(`metadata.name of the ${what} in the base.`),
  });

const workloadRef = objectRef("workload")
  .superRefine((w, ctx) => {
    if (!w.apiVersion && !KNOWN_WORKLOAD_API[w.kind]) ctx.addIssue({ code: "custom", path: ["apiVersion"], message: `kind ${w.kind} needs an apiVersion (known without one: ${Object.keys(KNOWN_WORKLOAD_API).join(", ")})` });
  })
  .describe("The workload in the base: Deployment, StatefulSet, DaemonSet, Job, CronJob, Argo Rollouts Rollout, or any kind with its apiVersion.");

const scalerRef = z
  .strictObject({
    apiVersion: z.string().min(1).optional().describe("apiVersion of the scaler; inferred (autoscaling/v2, keda.sh/v1alpha1)."),
    kind: z.enum(["HorizontalPodAutoscaler", "ScaledObject"]).describe("HorizontalPodAutoscaler (minimum 1) or KEDA ScaledObject (minimum 0: scale to zero)."),
    name: objectName.describe("metadata.name of the scaler in the base (any name)."),
  })
  .describe("What scales the workload; an environment's `replicas: {min, max}` patch its bounds. Absent: an environment may set a fixed `replicas: N`, patched into the workload.");

const componentSchema = z
  .strictObject({
    workload: workloadRef,
    container: dnsLabel.optional().describe("The container whose resources environments set (required when an environment sets `resources`)."),
    scaler: scalerRef.optional(),
    singleton: z.boolean().default(false).describe("Exactly one replica, never scaled (e.g. a scheduler); environments may not set replicas."),
  })
  .describe("A workload of the base that environments size: by kind and name, with what scales it.");

const replicaBoundsSchema = z
  .strictObject({
    min: z.number().int().min(0).describe("Lower bound (HPA: at least 1; ScaledObject: 0 scales to zero)."),
    max: z.number().int().min(1).describe("Upper bound."),
  })
  .refine((r) => r.min <= r.max, { error: (issue) => `min ${(issue.input as { min: number }).min} is above max ${(issue.input as { max: number }).max}` });

const environmentComponentSchema = z.strictObject({
  replicas: z
    .union([replicaBoundsSchema, z.number().int().min(0)])
    .optional()
    .describe("{min, max}: the bounds of the component's scaler; a number: a fixed replica count (components without a scaler)."),
  resources: resourcesSchema.optional(),
});

/** Pods outside the application's namespaces, by namespace name and labels. */
const clusterPods = z.strictObject({
  namespace: dnsLabel.describe("Their namespace."),
  podLabels: z.record(z.string(), z.string()).describe("Labels that select their pods."),
});

const layerSchema = z
  .strictObject({
    name: dnsLabel.describe("The layer's name: its overlay is overlays/<env>/<name>/ (the primary's overlays/<env>/), its Application <app>-<env>-<name>."),
    base: repoDir.describe("The Kustomize base the layer's overlays build on, e.g. base/app."),
    images: z.boolean().default(false).describe("The primary layer (exactly one): its overlay holds the `images:` tags that bump-image and promote move."),
  })
  .describe("A Kustomize base deployed as one Argo CD Application per environment.");

const templateValue = z.string().describe('A template: "{setting}" stands for a setting of the environment\'s managed service (host, port, or any other it gives).');

const dataServiceSchema = z
  .strictObject({
    layer: dnsLabel.describe("The layer whose base holds the in-cluster service (and whose overlay gets the managed component)."),
    configMap: objectName.optional().describe("The ConfigMap (in that layer) that receives the managed service's connection values."),
    managed: z
      .strictObject({
        component: repoDir.describe("A Kustomize component (repository-relative) added to the layer's overlay when the service is managed: it removes the in-cluster objects."),
        values: z.record(envVarName, templateValue).default({}).describe("Keys of `configMap` set from the environment's settings, e.g. DATABASE_HOST: \"{host}\"."),
        defaults: z.record(z.string(), z.string()).default({}).describe("Settings an environment may omit, e.g. port: \"5432\"."),
      })
      .optional()
      .describe("How an environment uses a managed service instead of the in-cluster one."),
  })
  .describe("A data service (PostgreSQL, Redis, Kafka, ClickHouse, MinIO…): in the cluster by default, or managed per environment.");

const secretStoreSchema = z
  .strictObject({
    kind: z.enum(["SecretStore", "ClusterSecretStore"]).describe("spec.secretStoreRef.kind of the ExternalSecrets this template applies to."),
    name: objectName.describe("spec.secretStoreRef.name of the ExternalSecrets this template applies to."),
  })
  .describe("Only ExternalSecrets reading from this store (absent: every store).");

const secretTemplateSchema = z
  .strictObject({
    baseKey: z.string().includes("{key}", { message: 'must contain "{key}"' }).describe('The base\'s remote keys, with "{key}" for the varying part, e.g. "ringlet/{key}".'),
    key: z.string().includes("{key}", { message: 'must contain "{key}"' }).describe('The environment\'s remote key: "{env}" the environment, "{key}" the matched part, e.g. "ringlet/{env}/{key}" (GCP Secret Manager: "{env}-{key}").'),
    store: secretStoreSchema.optional(),
  })
  .describe("How the remote keys of a store's ExternalSecrets become an environment's keys.");

const extrasSchema = z
  .strictObject({
    patches: z
      .array(
        z.union([
          overlayRelPath,
          z.strictObject({
            path: overlayRelPath.describe("The patch file, relative to the overlay."),
            target: z.record(z.string(), z.unknown()).optional().describe("Kustomize patch target (required for a JSON6902 patch)."),
          }),
        ]),
      )
      .default([])
      .describe("Patch files of your own in the layer's overlay directory (never written or deleted by generate)."),
    components: z.array(overlayRelPath).default([]).describe("Kustomize components added to the layer's overlay, relative to it (e.g. ../../components/spot)."),
    resources: z.array(overlayRelPath).default([]).describe("Extra resources added to the layer's overlay, relative to it."),
  })
  .describe("What generate adds to one layer's overlay as is.");

const managedSettingValue = z.union([z.string(), z.number(), z.boolean()]);

const environmentDataSchema = z
  .discriminatedUnion("mode", [
    z.strictObject({ mode: z.literal("in-cluster") }),
    z
      .object({
        mode: z.literal("managed"),
        host: dnsName.describe("The managed service's host."),
        port: port.optional().describe("Its port (default: the service's `managed.defaults.port`)."),
      })
      .catchall(managedSettingValue)
      .describe("Settings of the managed service: host, port and any other the service's value templates use."),
  ])
  .describe("in-cluster: the layer's base objects; managed: the service's component and connection values.");

const environmentSchema = z.strictObject({
  namespace: dnsLabel.describe("The namespace every layer of the environment deploys into."),
  host: ingressHost.optional().describe("Shorthand when the base serves exactly one host: this environment's host in its place."),
  hosts: z
    .record(ingressHost, ingressHost)
    .optional()
    .describe("Base host -> this environment's host, matched in every Ingress rule and TLS entry of the base (never by index). The first is the primary host ({host} of hostSettings)."),
  paths: z.record(z.string().regex(/^\//, "must start with '/'"), z.string().regex(/^\//, "must start with '/'")).optional().describe("Base Ingress path -> this environment's path, matched like hosts."),
  sync: z.enum(["auto", "manual"]).describe("auto: Argo CD syncs, prunes and self-heals; manual: an operator syncs (and may roll back)."),
  data: z.record(dnsLabel, environmentDataSchema).default({}).describe("Per data service: in-cluster (the default when omitted) or managed."),
  secretKey: z.string().includes("{key}", { message: 'must contain "{key}"' }).optional().describe("This environment's remote key template, instead of each `secrets` entry's `key`."),
  config: z.record(envVarName, z.string()).default({}).describe("Values merged into the application ConfigMap (`configMap`)."),
  components: z.record(z.string(), environmentComponentSchema).default({}).describe("Replicas and resources per component of the spec."),
  extras: z.record(dnsLabel, extrasSchema).default({}).describe("Escape hatch, per layer name: patches, components and resources of your own in the overlay."),
  application: z
    .strictObject({
      ignoreDifferences: z.array(z.record(z.string(), z.unknown())).optional().describe("Argo CD ignoreDifferences entries of the environment's Applications."),
      syncOptions: z.array(z.string().regex(/^[A-Za-z]+=[A-Za-z0-9,]+$/, "must be an Argo CD sync option such as ServerSideApply=true")).optional().describe("Sync options added to the environment's Applications."),
    })
    .optional()
    .describe("Merged into each of the environment's Argo CD Applications."),
  gates: gatesSchema.optional().describe("What a promotion into this environment must pass (tools/release/gates.ts)."),
});

/** An environment, optionally on several clusters (tools/spec/clusters.ts, issue 12). */
const environmentWithClusters = environmentSchema.extend({ clusters: clustersSchema(environmentSchema.shape) });

const DEFAULT_CLUSTER = {
  ingressController: { namespace: "ingress-nginx", podLabels: { "app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller" } },
  dns: { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } },
};

export const specSchema = z.strictObject({
  name: dnsLabel.describe("The application's name: prefix of its Argo CD Applications."),
  repoURL: z.string().url().describe("The git repository Argo CD syncs from: this repository."),
  targetRevision: z.string().min(1).default("main").describe("The branch Argo CD follows."),
  project: dnsLabel.describe("The Argo CD project of the environments' Applications."),
  argocdNamespace: dnsLabel.default("argocd").describe("Where Argo CD runs (and its Applications live)."),
  destinationServer: z.string().url().default("https://kubernetes.default.svc").describe("The cluster the Applications deploy to."),
  images: z
    .array(z.strictObject({ name: imageName.describe("The image as the base names it."), initialTag: z.string().min(1).describe("The tag a new first stage starts at.") }))
    .min(1)
    .describe("Images whose tags the environments move; the tag itself lives in each primary overlay."),
  layers: z
    .array(layerSchema)
    .min(1)
    .default([{ name: "app", base: "base", images: true }])
    .describe("The Kustomize bases, in sync order; exactly one has `images: true` (the primary). Default: one layer `app` on base/."),
  configMap: z
    .strictObject({ layer: dnsLabel.describe("The layer whose base generates it."), name: objectName.describe("The configMapGenerator's name.") })
    .optional()
    .describe("The application ConfigMap (a configMapGenerator) that environments' `config` merges into."),
  connection: z
    .strictObject({
      configMap: objectName.describe("A stable ConfigMap every pod (hooks too) reads."),
      layer: dnsLabel.describe("The layer whose base holds it."),
      hostSettings: z
        .record(envVarName, z.string().includes("{host}", { message: 'must contain "{host}"' }))
        .default({})
        .describe('Keys derived from the environment\'s primary host, e.g. CSRF_TRUSTED_ORIGINS: "https://{host}".'),
    })
    .optional()
    .describe("Settings written per environment from its host into a stable ConfigMap."),
  data: z.record(dnsLabel, dataServiceSchema).default({}).describe("Data services, each in-cluster or managed per environment."),
  secrets: z.array(secretTemplateSchema).default([]).describe("Per secret store: how the base's remote keys become each environment's (ExternalSecrets)."),
  cluster: z
    .strictObject({
      ingressController: clusterPods.default(DEFAULT_CLUSTER.ingressController).describe("The ingress controller's pods (they must reach every Ingress backend)."),
      dns: clusterPods.default(DEFAULT_CLUSTER.dns).describe("The cluster DNS's pods."),
    })
    .default(DEFAULT_CLUSTER)
    .describe("What the NetworkPolicy rules take as given outside the environments' namespaces."),
  components: z.record(dnsLabel, componentSchema).default({}).describe("Workloads of the base that environments size."),
  environments: z.record(dnsLabel, environmentWithClusters).describe("In promotion order: the first is where new tags land, the last is production."),
});

export type Spec = z.infer<typeof specSchema>;
export type Environment = z.infer<typeof environmentWithClusters>;
export type Component = z.infer<typeof componentSchema>;
export type Resources = z.infer<typeof resourcesSchema>;
export type Layer = z.infer<typeof layerSchema>;
export type DataService = z.infer<typeof dataServiceSchema>;
export type Extras = z.infer<typeof extrasSchema>;
export type SecretTemplate = z.infer<typeof secretTemplateSchema>;
