/** The typed topology model the DSL parser produces and render/apply consume. */

/** A 1-based source position; `col` points at the token it describes. */
export interface Pos {
  line: number;
  col: number;
}

/** How bad a diagnostic is: errors make `lint` exit 1 and stop render/apply; warnings do not. */
export type Severity = "error" | "warning";

/** One finding, compiler style. `code` is a short kebab-case id listed in README, "The topology DSL". */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  severity: Severity;
  code: string;
  message: string;
}

/** `cluster NAME` */
export interface ClusterDecl {
  name: string;
  pos: Pos;
}

/** `node NAME parent IFACE [address IP]`; without an address the plugin reads the parent's at run time. */
export interface NodeDecl {
  name: string;
  parent: string;
  /** Canonical address. */
  address?: string;
  pos: Pos;
  namePos: Pos;
  addressPos?: Pos;
}

/** `master NODE IFACE IP/PREFIX [gateway IP]`: one of anchor's CLUSTER_NETWORK items. */
export interface MasterDecl {
  node: string;
  iface: string;
  /** The master's own address, canonical. */
  ip: string;
  prefix: number;
  /** The subnet the master carries, canonical network form (`10.0.2.0/24`). */
  subnet: string;
  gateway?: string;
  pos: Pos;
  nodePos: Pos;
  ifacePos: Pos;
  ipPos: Pos;
  gatewayPos?: Pos;
}

/** `pool NAMESPACE RANGES`: the addresses a namespace may use, in anchor's range grammar. */
export interface PoolDecl {
  namespace: string;
  /** The range text as written (what apply stores at /anchor/ns/<namespace>). */
  ranges: string;
  pos: Pos;
  namespacePos: Pos;
  /** Where the range text starts; a range item's offset adds to this column. */
  rangesPos: Pos;
}

/** `gateway SUBNET IP` */
export interface GatewayDecl {
  /** Canonical network form. */
  subnet: string;
  gateway: string;
  pos: Pos;
  subnetPos: Pos;
  gatewayPos: Pos;
}

/** `pod NAME node NODE [namespace NS]` */
export interface PodDecl {
  name: string;
  node: string;
  namespace: string;
  pos: Pos;
  namePos: Pos;
  nodePos: Pos;
}

/** One end of a link: `POD:IFNAME [IP/PREFIX]`. */
export interface LinkEndDecl {
  pod: string;
  ifname: string;
  /** Canonical `addr/prefix`; absent when the interface gets no address. */
  ip?: string;
  pos: Pos;
  ifnamePos: Pos;
  ipPos?: Pos;
}

/** `link A -- B [mtu N]`; `a` is the primary end. */
export interface LinkDecl {
  /** `<nsA>.<podA>.<ifA>--<nsB>.<podB>.<ifB>`, the store key's last part. */
  id: string;
  a: LinkEndDecl;
  b: LinkEndDecl;
  mtu?: number;
  pos: Pos;
  mtuPos?: Pos;
}

/** A whole topology file, in file order. */
export interface Topology {
  file: string;
  cluster?: ClusterDecl;
  nodes: NodeDecl[];
  masters: MasterDecl[];
  pools: PoolDecl[];
  gateways: GatewayDecl[];
  pods: PodDecl[];
  links: LinkDecl[];
}

/** What lint returns: the model (possibly partial when there are errors) and every diagnostic. */
export interface LintResult {
  topology: Topology;
  diagnostics: Diagnostic[];
}
