/**
 * Credentials the plugins need on the host: the etcd TLS files and, inside a cluster, a kubeconfig
 * made from the installer pod's service account (the plugins run on the host, outside any pod).
 */
import { SERVICE_ACCOUNT_DIR } from "../kube/settings.ts";
import { writeFileAtomic } from "./files.ts";

/**
 * Copies an etcd TLS file into `<confDir>/anchor-tls/` and returns the host path the config should
 * name; a Secret mounted in the installer pod is not visible to the host's plugins.
 */
export function installTlsFile(confDir: string, source: string, name: string): string {
  const target = `${confDir}/anchor-tls/${name}`;
  if (source === target) return target;
  writeFileAtomic(target, Deno.readTextFileSync(source), 0o600);
  return target;
}

/**
 * Writes `<confDir>/anchor-kubeconfig` from the service account when running in a pod, and returns
 * its path; undefined outside a cluster. The file is mode 0600: it holds a token.
 */
export function writeServiceAccountKubeconfig(
  confDir: string,
  env: Record<string, string | undefined>,
  saDir = SERVICE_ACCOUNT_DIR,
): string | undefined {
  const host = env.KUBERNETES_SERVICE_HOST, port = env.KUBERNETES_SERVICE_PORT;
  let token: string;
  try {
    token = Deno.readTextFileSync(`${saDir}/token`).trim();
  } catch {
    return undefined;
  }
  if (!host || !port) return undefined;
  const caFile = `${confDir}/anchor-tls/kube-ca.crt`;
  writeFileAtomic(caFile, Deno.readTextFileSync(`${saDir}/ca.crt`), 0o644);
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  // JSON is YAML, so any kubeconfig reader takes it, and no YAML writer is needed here.
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "local", cluster: { server, "certificate-authority": caFile } }],
    users: [{ name: "anchor", user: { token } }],
    contexts: [{ name: "anchor", context: { cluster: "local", user: "anchor" } }],
    "current-context": "anchor",
  };
  const path = `${confDir}/anchor-kubeconfig`;
  writeFileAtomic(path, JSON.stringify(kubeconfig, null, 2) + "\n", 0o600);
  return path;
}
