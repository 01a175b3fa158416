import { KubeConfigError } from "./errors.ts";
import { readSettingFile } from "./files.ts";
import { isRecord } from "./record.ts";
import { checkServerUrl } from "./settings.ts";
import { lazy } from "../lazy.ts";
import type { KubeAccess } from "./types.ts";

type Obj = Record<string, unknown>;

const loadYaml = lazy<typeof import("yaml")>(new URL(import.meta.resolve("yaml")));

/**
 * Reads the current context of a kubeconfig into connection parameters, with the files it names read.
 *
 * Relative paths are taken from the kubeconfig's folder, as kubectl does. Inline `-data` wins over a
 * path. Returns what the file says; the server may still be missing if an override is to supply it.
 */
export async function loadKubeconfig(path: string): Promise<Partial<KubeAccess>> {
  const where = `kubeconfig ${path}`;
  const raw = await readSettingFile(path, "kubernetes.kubeconfig");
  // Only configs that use a kubeconfig pay for loading the YAML parser, an npm package (CommonJS,
  // about 40 ms): never at start-up, from the sources or from a plugin bundle (mod/install/bundle.ts).
  const { parse } = await loadYaml();
  let doc: unknown;
  try {
    doc = parse(raw);
  } catch (e) {
    throw new KubeConfigError(where, `not valid YAML: ${e instanceof Error ? e.message : e}`);
  }
  if (!isRecord(doc)) throw new KubeConfigError(where, "is not a YAML mapping");

  const contexts = entries(doc, "contexts", where);
  const current = field(doc, "current-context", where);
  // client-go demands current-context; a file with a single context has only one sensible reading.
  const ctx = current
    ? named(contexts, current, "contexts", where)
    : contexts.length === 1
    ? contexts[0]
    : undefined;
  if (!ctx) {
    throw new KubeConfigError(
      `${where}: current-context`,
      "is not set and the file has not exactly one context",
    );
  }
  const ctxName = String(ctx.name);
  const context = sub(ctx, "context", `${where}: contexts[${ctxName}]`);
  const clusterName = field(context, "cluster", `${where}: contexts[${ctxName}].context`);
  if (!clusterName) throw new KubeConfigError(`${where}: contexts[${ctxName}].context.cluster`, "is missing");
  const userName = field(context, "user", `${where}: contexts[${ctxName}].context`);

  const clusterAt = `${where}: clusters[${clusterName}].cluster`;
  const clusterEntry = named(entries(doc, "clusters", where), clusterName, "clusters", where);
  const cluster = sub(clusterEntry, "cluster", `${where}: clusters[${clusterName}]`);
  const userAt = `${where}: users[${userName}].user`;
  const userEntry = userName ? named(entries(doc, "users", where), userName, "users", where) : {};
  const user = sub(userEntry, "user", `${where}: users[${userName}]`);
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "./";
  const file = (p: string) => (p.startsWith("/") ? p : dir + p);

  const out: Partial<KubeAccess> = { insecure: cluster["insecure-skip-tls-verify"] === true };
  const server = field(cluster, "server", clusterAt);
  if (server) out.server = checkServerUrl(server, `${clusterAt}.server`);
  out.caPem = await pem(cluster, "certificate-authority", clusterAt, file);
  out.certPem = await pem(user, "client-certificate", userAt, file);
  out.keyPem = await pem(user, "client-key", userAt, file);
  out.token = field(user, "token", userAt);
  const tokenFile = field(user, "tokenFile", userAt);
  if (!out.token && tokenFile) {
    out.token = (await readSettingFile(file(tokenFile), `${userAt}.tokenFile`)).trim();
  }
  const username = field(user, "username", userAt), password = field(user, "password", userAt);
  if (username) out.basicAuth = btoa(`${username}:${password ?? ""}`);
  if (!out.token && !out.certPem && !out.basicAuth && ("exec" in user || "auth-provider" in user)) {
    throw new KubeConfigError(
      `${userAt}.${"exec" in user ? "exec" : "auth-provider"}`,
      "credential plugins are not supported; give the user a token, tokenFile or client certificate",
    );
  }
  for (const k of Object.keys(out) as (keyof KubeAccess)[]) if (out[k] === undefined) delete out[k];
  return out;
}

async function pem(
  o: Obj,
  key: string,
  at: string,
  file: (p: string) => string,
): Promise<string | undefined> {
  const data = field(o, `${key}-data`, at);
  if (data) {
    try {
      return atob(data.replace(/\s+/g, ""));
    } catch {
      throw new KubeConfigError(`${at}.${key}-data`, "is not base64");
    }
  }
  const path = field(o, key, at);
  return path ? await readSettingFile(file(path), `${at}.${key}`) : undefined;
}

function field(o: Obj, key: string, at: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new KubeConfigError(`${at}.${key}`, `must be a string, got ${typeof v}`);
  return v;
}

function entries(doc: Obj, key: string, at: string): Obj[] {
  const v = doc[key] ?? [];
  if (!Array.isArray(v) || !v.every(isRecord)) {
    throw new KubeConfigError(`${at}: ${key}`, "must be a list of mappings");
  }
  return v;
}

function named(list: Obj[], name: string, key: string, at: string): Obj {
  const hit = list.find((e) => e.name === name);
  if (!hit) throw new KubeConfigError(`${at}: ${key}`, `has no entry named ${JSON.stringify(name)}`);
  return hit;
}

function sub(o: Obj, key: string, at: string): Obj {
  const v = o[key] ?? {};
  if (!isRecord(v)) throw new KubeConfigError(`${at}.${key}`, "must be a mapping");
  return v;
}
