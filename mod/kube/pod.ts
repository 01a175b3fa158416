import { isRecord } from "./record.ts";
import type { OwnerReference, Pod, ReplicaSet } from "./types.ts";

/**
 * One flat map of a pod's labels and annotations, annotations winning on a shared key.
 *
 * This is how the original anchor looked up its `cni.anchor.org/*` keys, so a key may be set either way.
 */
export function podMetadata(pod: Pod): Record<string, string> {
  return { ...pod.labels, ...pod.annotations };
}

/** The owner reference with `controller: true`, if any. */
export function controllerOf(refs: OwnerReference[]): OwnerReference | undefined {
  return refs.find((r) => r.controller);
}

/** Reads a Pod out of the API server's JSON, or returns a sentence saying what is wrong with it. */
export function parsePod(body: unknown): Pod | string {
  const meta = objectMetaOf(body, "Pod");
  if (typeof meta === "string") return meta;
  const pod: Pod = meta;
  const spec = (body as { spec?: unknown }).spec;
  if (isRecord(spec) && typeof spec.nodeName === "string" && spec.nodeName !== "") {
    pod.nodeName = spec.nodeName;
  }
  return pod;
}

/** Reads a ReplicaSet out of the API server's JSON, or returns a sentence saying what is wrong with it. */
export function parseReplicaSet(body: unknown): ReplicaSet | string {
  const meta = objectMetaOf(body, "ReplicaSet");
  if (typeof meta === "string") return meta;
  return { name: meta.name, namespace: meta.namespace, uid: meta.uid, ownerReferences: meta.ownerReferences };
}

type Meta = Omit<Pod, "nodeName">;

function objectMetaOf(body: unknown, kind: string): Meta | string {
  if (!isRecord(body)) return `expected a ${kind} object, got ${typeof body}`;
  if (body.kind !== kind) return `expected kind ${kind}, got ${JSON.stringify(body.kind)}`;
  const m = body.metadata;
  if (!isRecord(m) || typeof m.name !== "string" || typeof m.namespace !== "string") {
    return `${kind} without metadata.name and metadata.namespace`;
  }
  return {
    name: m.name,
    namespace: m.namespace,
    uid: typeof m.uid === "string" ? m.uid : "",
    labels: stringMap(m.labels),
    annotations: stringMap(m.annotations),
    ownerReferences: Array.isArray(m.ownerReferences) ? m.ownerReferences.flatMap(ownerRef) : [],
  };
}

function ownerRef(r: unknown): OwnerReference[] {
  if (!isRecord(r) || typeof r.kind !== "string" || typeof r.name !== "string") return [];
  return [{
    apiVersion: typeof r.apiVersion === "string" ? r.apiVersion : "",
    kind: r.kind,
    name: r.name,
    uid: typeof r.uid === "string" ? r.uid : "",
    controller: r.controller === true,
  }];
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, s] of Object.entries(v)) if (typeof s === "string") out[k] = s;
  return out;
}
