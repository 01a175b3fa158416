/**
 * The topology the program carries inside itself (a TS string, so `deno compile` embeds it);
 * `ratchet lint @default`, `render @default` and the demo use it.
 */

/** The name that stands for the embedded topology wherever a FILE is expected. */
export const DEFAULT_TOPOLOGY_NAME = "@default";

/** A two-node lab: two LANs through masters, a pool, a same-node pair, a cross-node pair, a pod without links. */
export const DEFAULT_TOPOLOGY =
  `# The two-node lab the demo builds. The demo remaps the parent interfaces to its own.
cluster lab
node node01 parent eth0 address 192.168.1.224
node node02 parent eth0 address 192.168.1.225

# anchor's cluster network: each node reaches two LANs through a master interface
master node01 eth0.2 10.0.2.8/24 gateway 10.0.2.1
master node01 eth0.3 10.0.3.8/24 gateway 10.0.3.1
master node02 eth0.2 10.0.2.9/24 gateway 10.0.2.1
master node02 eth0.3 10.0.3.9/24 gateway 10.0.3.1
gateway 10.0.2.0/24 10.0.2.1
gateway 10.0.3.0/24 10.0.3.1
pool default 10.0.2.[20-29], 10.0.3.[20-29]

pod primary-pod node node01
pod pair-pod node node01
pod left-pod node node01
pod right-pod node node02
pod lone-pod node node02      # no links: the delegate network only

# same node: a veth pair
link primary-pod:in1 192.168.2.100/24 -- pair-pod:in2 192.168.2.101/24
# across nodes: vxlan over the parents; 1450 leaves room for the 50-byte header
link left-pod:in1 192.168.3.1/24 -- right-pod:in1 192.168.3.2/24 mtu 1450
`;
