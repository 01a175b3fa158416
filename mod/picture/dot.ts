/**
 * A picture as Graphviz DOT (https://graphviz.org/doc/info/lang.html): an undirected graph, one
 * `cluster_*` subgraph per node holding its pods, one edge per link with `taillabel`/`headlabel` for
 * the ends (end a is the tail), veth solid and vxlan dashed, coloured by state when known. No layout
 * library is loaded: `dot` does the layout.
 */
import { conditionColor, endLabel, linkSummary, type Picture } from "./model.ts";

/** A DOT double-quoted string; backslashes are escaped too, since DOT reads `\n`, `\l` as escapes. */
export function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Renders the DOT text (UTF-8), ending in a newline. */
export function renderDot(picture: Picture): string {
  const out = [
    `graph ${dotString(picture.title ?? "topology")} {`,
    `  graph [rankdir=LR, fontname="Helvetica", fontsize=12, nodesep=0.5, ranksep=1.6${
      picture.title ? `, label=${dotString(picture.title)}, labelloc=t` : ""
    }];`,
    `  node [shape=box, style="rounded,filled", fillcolor="#ffffff", color="#5b6b86", fontname="Helvetica", fontsize=11];`,
    `  edge [fontname="Helvetica", fontsize=9, labelfontsize=9, labeldistance=2.2, penwidth=1.6];`,
  ];
  const podLine = (p: Picture["pods"][number]) =>
    `${dotString(p.id)} [label=${dotString(`${p.name}\n${p.namespace}`)}];`;
  const nodeNames = new Set(picture.nodes.map((n) => n.name));
  const clusters = [
    ...picture.nodes,
    ...[...new Set(picture.pods.map((p) => p.node).filter((n): n is string => !!n && !nodeNames.has(n)))]
      .map((name) => ({ name, parent: undefined, address: undefined })),
  ];
  clusters.forEach((node, i) => {
    const sub = [node.parent, node.address].filter(Boolean).join(" ");
    out.push(`  subgraph ${dotString(`cluster_${i}`)} {`);
    out.push(
      `    label=${
        dotString(sub ? `${node.name}\n${sub}` : node.name)
      }; style="rounded,filled"; fillcolor="#eef1f6"; color="#b8c1d1";`,
    );
    for (const p of picture.pods) if (p.node === node.name) out.push(`    ${podLine(p)}`);
    out.push("  }");
  });
  for (const p of picture.pods) if (p.node === undefined) out.push(`  ${podLine(p)}`);
  for (const l of picture.links) {
    const attrs = [
      `id=${dotString(l.id)}`,
      `tooltip=${dotString(l.id)}`,
      `taillabel=${dotString(endLabel(l.a))}`,
      `headlabel=${dotString(endLabel(l.b))}`,
      `label=${dotString(linkSummary(l))}`,
      `style=${l.kind === "vxlan" ? "dashed" : "solid"}`,
      `color=${dotString(conditionColor(l.condition))}`,
    ];
    out.push(`  ${dotString(l.a.pod)} -- ${dotString(l.b.pod)} [${attrs.join(", ")}];`);
  }
  out.push("}");
  return out.join("\n") + "\n";
}
