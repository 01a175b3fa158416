/** `render --to pod-specs`: one Kubernetes Pod per `pod` statement, as multi-document YAML. */
import { podLinksToMetadata } from "../mod/links/render.ts";
import { nodeAddresses, podLinkEnds } from "./pod_links.ts";
import type { RenderFilter } from "./render_store.ts";
import type { Topology } from "./types.ts";

/** The image the rendered pods run; small, with `ip` for poking at the links by hand. */
export const POD_IMAGE = "docker.io/library/busybox:1.36";

/** The Pod objects, plain data, pinned to their node with `nodeName`. */
export function podObjects(topo: Topology, filter: RenderFilter = {}): Record<string, unknown>[] {
  const ends = podLinkEnds(topo);
  const addrs = nodeAddresses(topo);
  const out: Record<string, unknown>[] = [];
  for (const p of topo.pods) {
    if (filter.node !== undefined && p.node !== filter.node) continue;
    const meta = podLinksToMetadata(
      { name: p.name, namespace: p.namespace, publicIp: addrs.get(p.node) },
      ends.get(p.name) ?? [],
    );
    const metadata: Record<string, unknown> = {
      name: p.name,
      namespace: p.namespace,
      labels: { app: p.name, ...meta.labels },
    };
    if (Object.keys(meta.annotations).length) metadata.annotations = meta.annotations;
    out.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata,
      spec: {
        nodeName: p.node,
        containers: [{ name: p.name, image: POD_IMAGE, command: ["/bin/sh", "-c", "sleep infinity"] }],
      },
    });
  }
  return out;
}

/** Multi-document YAML of the pods; the yaml package loads only here, on first use. */
export async function renderPodSpecs(topo: Topology, filter: RenderFilter = {}): Promise<string> {
  const { stringify } = await import("yaml");
  const head = topo.cluster ? `# pods of cluster ${topo.cluster.name}, rendered from ${topo.file}\n` : "";
  return head + podObjects(topo, filter).map((o) => "---\n" + stringify(o, { lineWidth: 0 })).join("");
}
