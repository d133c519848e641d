// The sync-wave annotation as Argo CD reads it (gitops-engine pkg/sync/syncwaves): shared by the
// rules and the sync plan.
import type { KubeObject } from "../core/yaml.ts";

const WAVE = "argocd.argoproj.io/sync-wave";

/** An integer, 0 when absent or not a number. */
export function syncWave(object: KubeObject): number {
  const text = object.metadata?.annotations?.[WAVE]?.trim();
  return text !== undefined && /^[-+]?\d+$/.test(text) ? Number.parseInt(text, 10) : 0;
}
