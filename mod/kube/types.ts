/** One entry of `metadata.ownerReferences`. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  /** True for the one owner that manages the object (a ReplicaSet, StatefulSet, Job, ...). */
  controller: boolean;
}

/** The parts of a Pod the plugins use. */
export interface Pod {
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** `spec.nodeName`; absent while the pod is unscheduled. */
  nodeName?: string;
  ownerReferences: OwnerReference[];
}

/** The parts of an apps/v1 ReplicaSet needed to find its Deployment. */
export interface ReplicaSet {
  name: string;
  namespace: string;
  uid: string;
  ownerReferences: OwnerReference[];
}

/** Everything needed to talk to one API server, files already read. Internal to mod/kube. */
export interface KubeAccess {
  server: string;
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  token?: string;
  /** base64 of `user:password`, from a kubeconfig's username/password. */
  basicAuth?: string;
  /** kubeconfig `insecure-skip-tls-verify: true`. */
  insecure: boolean;
}
