import { KubeConfigError } from "./errors.ts";
import { readSettingFile } from "./files.ts";
import { loadKubeconfig } from "./kubeconfig.ts";
import type { KubeSettings } from "./settings.ts";
import type { KubeAccess } from "./types.ts";

/** Reads the files the settings name and layers them: kubeconfig or service account, then overrides. */
export async function resolveAccess(s: KubeSettings): Promise<KubeAccess> {
  const base = s.kubeconfig
    ? await loadKubeconfig(s.kubeconfig)
    : s.serviceAccount
    ? await serviceAccount(s.serviceAccount)
    : {};
  const a: Partial<KubeAccess> & { insecure: boolean } = { insecure: false, ...base };
  const o = s.overrides;
  if (o.server) a.server = o.server;
  if (o.token) a.token = o.token;
  if (o.certificateAuthority) {
    a.caPem = await readSettingFile(o.certificateAuthority, "policy.k8s_certificate_authority");
    // An explicit CA means "verify with this", whatever the kubeconfig said about skipping (as client-go).
    a.insecure = false;
  }
  if (o.clientCertificate) {
    a.certPem = await readSettingFile(o.clientCertificate, "policy.k8s_client_certificate");
  }
  if (o.clientKey) a.keyPem = await readSettingFile(o.clientKey, "policy.k8s_client_key");

  const source = s.kubeconfig ? `kubeconfig ${s.kubeconfig}` : "policy";
  if (!a.server) {
    throw new KubeConfigError(source, "names no API server (cluster.server or policy.k8s_api_root)");
  }
  if (!a.certPem !== !a.keyPem) {
    throw new KubeConfigError(source, "a client certificate needs its key, and a key its certificate");
  }
  return a as KubeAccess;
}

async function serviceAccount(sa: NonNullable<KubeSettings["serviceAccount"]>): Promise<Partial<KubeAccess>> {
  const out: Partial<KubeAccess> = {
    server: sa.server,
    token: (await readSettingFile(`${sa.dir}/token`, "service account token")).trim(),
  };
  try {
    out.caPem = await Deno.readTextFile(`${sa.dir}/ca.crt`);
  } catch (e) {
    // client-go goes on without the CA when the file is missing; then the system roots decide.
    if (!(e instanceof Deno.errors.NotFound)) throw new KubeConfigError("service account ca.crt", String(e));
  }
  return out;
}
