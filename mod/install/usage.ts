/** Apart from the flag parser, so that listing the command in help costs no imports. */
export const INSTALL_USAGE =
  "install [--bin-dir DIR] [--conf-dir DIR] [--conf-file NAME] [--node-name NAME] " +
  "[--cluster-network STR] [--create-macvlan] [--octopus SUBNET=MASTER]... [--topology FILE] [--mode octopus|macvlan] " +
  "[--etcd-endpoints URLS [--etcd-ca-cert-file F --etcd-cert-file F --etcd-key-file F] | --store DIR] " +
  "[--service-ipnet CIDR] [--kubeconfig F] [--state-file F] [--force] [--dry-run] [--wait]";
