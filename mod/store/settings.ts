/**
 * Where the store lives, read from a CNI config object or from CLI flags, validated in one place.
 *
 * No etcd field means the embedded store (SQLite, in a directory); the field names are the original projects'
 * (anchor: `etcd_endpoints`, `etcd_*_file`; ratchet: `etcd_host` + `etcd_port`).
 */
import { StoreSettingsError } from "./errors.ts";

/** Where the embedded store keeps its database when neither a directory nor etcd is configured. */
export const DEFAULT_STORE_DIR = "/var/lib/cni/anchor";
/** Per-call deadline for etcd; short because a CNI runtime waits on every call. */
export const DEFAULT_ETCD_TIMEOUT_MS = 2000;
const DEFAULT_ETCD_PORT = 2379;

/**
 * The embedded store, for single-node use: a SQLite database `dir/store.db`. The kind keeps its first
 * name, "file" (it is still a file in a directory), so that settings and callers stay as they were.
 */
export interface FileStoreSettings {
  kind: "file";
  dir: string;
}

/** etcd v3. Endpoints are normalised URLs `http(s)://host:port`, all of one scheme. */
export interface EtcdStoreSettings {
  kind: "etcd";
  endpoints: string[];
  certFile?: string;
  keyFile?: string;
  caCertFile?: string;
  username?: string;
  password?: string;
  /** Deadline of each call, and how long a watch may take to attach. */
  timeoutMs: number;
}

/** Either backend; `openStore` takes this. */
export type StoreSettings = FileStoreSettings | EtcdStoreSettings;

/** The settings' inputs before validation, under the names this module uses. */
interface RawSettings {
  dir?: unknown;
  endpoints?: unknown;
  host?: unknown;
  port?: unknown;
  certFile?: unknown;
  keyFile?: unknown;
  caCertFile?: unknown;
  username?: unknown;
  password?: unknown;
  timeoutMs?: unknown;
}

/** How the user spelled each input, so that errors name the field they wrote. */
type FieldNames = Record<keyof RawSettings, string>;

const CONFIG_FIELDS: FieldNames = {
  dir: "store",
  endpoints: "etcd_endpoints",
  host: "etcd_host",
  port: "etcd_port",
  certFile: "etcd_cert_file",
  keyFile: "etcd_key_file",
  caCertFile: "etcd_ca_cert_file",
  username: "etcd_username",
  password: "etcd_password",
  timeoutMs: "etcd_timeout_ms",
};

const FLAG_FIELDS: FieldNames = {
  dir: "--store",
  endpoints: "--etcd-endpoints",
  host: "--etcd-host",
  port: "--etcd-port",
  certFile: "--etcd-cert-file",
  keyFile: "--etcd-key-file",
  caCertFile: "--etcd-ca-cert-file",
  username: "--etcd-username",
  password: "--etcd-password",
  timeoutMs: "--etcd-timeout-ms",
};

/**
 * The store flags in node:util `parseArgs` form, to spread into a command's options.
 *
 * @example
 * ```ts
 * const { values } = parseArgs({ args, options: { ...storeFlagOptions, force: { type: "boolean" } } });
 * const settings = storeSettingsFromFlags(values);
 * ```
 */
export const storeFlagOptions = Object.fromEntries(
  Object.values(FLAG_FIELDS).map((flag) => [flag.slice(2), { type: "string" as const }]),
) as Record<string, { type: "string" }>;

/**
 * Picks the store fields out of a CNI config object: anchor's `ipam` section or ratchet's top level.
 * Other fields are ignored. Without any store field the result is the default file store.
 *
 * @example
 * ```ts
 * storeSettingsFromConfig({ type: "anchor", etcd_endpoints: "https://10.0.0.1:2379,https://10.0.0.2:2379",
 *   etcd_cert_file: "/etc/anchor/cert.pem", etcd_key_file: "/etc/anchor/key.pem", etcd_ca_cert_file: "/etc/anchor/ca.pem" });
 * storeSettingsFromConfig({ type: "ratchet", etcd_host: "10.0.0.1", etcd_port: 2379 }); // http://10.0.0.1:2379
 * storeSettingsFromConfig({ store: "/var/lib/cni/lab" });                                // file store
 * ```
 */
export function storeSettingsFromConfig(config: Record<string, unknown>): StoreSettings {
  return fromRaw(pick(config, CONFIG_FIELDS), CONFIG_FIELDS);
}

/**
 * Maps parsed CLI flags (`--store DIR`, `--etcd-endpoints URLS`, `--etcd-cert-file`, `--etcd-key-file`,
 * `--etcd-ca-cert-file`, `--etcd-username`, `--etcd-password`, `--etcd-timeout-ms`) to settings.
 * Keys are the flag names without dashes, as node:util `parseArgs` returns them.
 */
export function storeSettingsFromFlags(flags: Record<string, unknown>): StoreSettings {
  const keys = Object.fromEntries(
    Object.entries(FLAG_FIELDS).map(([field, flag]) => [field, flag.slice(2)]),
  ) as FieldNames;
  return fromRaw(pick(flags, keys), FLAG_FIELDS);
}

/** The embedded store's database inside its directory. */
export const DATABASE_FILE = "store.db";

/**
 * A one-line description of where the settings point, matching `Store.describe()`:
 * "sqlite store /var/lib/cni/anchor/store.db", "etcd http://10.0.0.1:2379,http://10.0.0.2:2379".
 */
export function describeSettings(settings: StoreSettings): string {
  switch (settings.kind) {
    case "file":
      return `sqlite store ${settings.dir}/${DATABASE_FILE}`;
    case "etcd":
      return `etcd ${settings.endpoints.join(",")}`;
    default:
      return unknownKind(settings);
  }
}

/** The `default` of every switch over the store kind: a new kind fails the type check until handled. */
export function unknownKind(settings: never): never {
  throw new StoreSettingsError(
    "kind",
    `unknown store kind ${JSON.stringify((settings as { kind: unknown }).kind)}`,
  );
}

function pick(source: Record<string, unknown>, keys: FieldNames): RawSettings {
  const raw: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(keys)) raw[field] = source[key];
  return raw as RawSettings;
}

/** Empty strings and lists count as absent: config templates render unset fields that way. */
function given(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === "string") return value.trim() !== "";
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

function fromRaw(raw: RawSettings, names: FieldNames): StoreSettings {
  // A timeout alone selects nothing: templates may set it whichever store is in use.
  const etcdFields = (Object.keys(names) as (keyof RawSettings)[])
    .filter((f) => f !== "dir" && f !== "timeoutMs" && given(raw[f]));
  if (etcdFields.length === 0) {
    return { kind: "file", dir: given(raw.dir) ? text(raw.dir, names.dir) : DEFAULT_STORE_DIR };
  }
  if (given(raw.dir)) {
    throw new StoreSettingsError(
      names.dir,
      `a store directory and etcd (${etcdFields.map((f) => names[f]).join(", ")}) are both given; use one`,
    );
  }
  const endpoints = etcdEndpoints(raw, names);
  const secure = endpoints.filter((e) => e.startsWith("https://"));
  if (secure.length > 0 && secure.length < endpoints.length) {
    throw new StoreSettingsError(names.endpoints, "mixes http:// and https:// endpoints");
  }
  const settings: EtcdStoreSettings = {
    kind: "etcd",
    endpoints,
    timeoutMs: timeout(raw.timeoutMs, names.timeoutMs),
  };
  for (const field of ["certFile", "keyFile", "caCertFile", "username", "password"] as const) {
    if (given(raw[field])) settings[field] = text(raw[field], names[field]);
  }
  if (!settings.certFile !== !settings.keyFile) {
    throw new StoreSettingsError(
      settings.certFile ? names.keyFile : names.certFile,
      `is required with ${settings.certFile ? names.certFile : names.keyFile}`,
    );
  }
  if (!settings.username !== !settings.password) {
    throw new StoreSettingsError(
      settings.username ? names.password : names.username,
      `is required with ${settings.username ? names.username : names.password}`,
    );
  }
  const tlsFile = (["certFile", "keyFile", "caCertFile"] as const).find((f) => settings[f]);
  if (tlsFile && secure.length === 0) {
    throw new StoreSettingsError(
      names[tlsFile],
      `TLS files need https:// endpoints, got ${endpoints.join(",")}`,
    );
  }
  return settings;
}

function etcdEndpoints(raw: RawSettings, names: FieldNames): string[] {
  if (given(raw.endpoints)) {
    if (given(raw.host) || given(raw.port)) {
      throw new StoreSettingsError(names.host, `give ${names.endpoints} or ${names.host}, not both`);
    }
    const list = Array.isArray(raw.endpoints)
      ? raw.endpoints.map((e, i) => text(e, `${names.endpoints}[${i}]`))
      : text(raw.endpoints, names.endpoints).split(",");
    const endpoints = list.map((e) => e.trim()).filter((e) => e !== "");
    if (endpoints.length === 0) throw new StoreSettingsError(names.endpoints, "lists no endpoint");
    return endpoints.map((e) => endpointUrl(e, names.endpoints));
  }
  if (!given(raw.host)) {
    throw new StoreSettingsError(names.endpoints, `is required when other etcd settings are given`);
  }
  const host = text(raw.host, names.host);
  const port = given(raw.port) ? portNumber(raw.port, names.port) : DEFAULT_ETCD_PORT;
  // ratchet's etcd_host was a bare host name or address, always plain http.
  return [
    endpointUrl(`${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`, names.host),
  ];
}

/** Normalises `host:port`, `http://host`, `https://host:port/` to `scheme://host:port`. */
function endpointUrl(endpoint: string, field: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new StoreSettingsError(field, `${JSON.stringify(endpoint)} is not a URL like http://10.0.0.1:2379`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new StoreSettingsError(field, `${JSON.stringify(endpoint)} must use http:// or https://`);
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.username) {
    throw new StoreSettingsError(field, `${JSON.stringify(endpoint)} must be scheme://host:port only`);
  }
  return `${url.protocol}//${url.hostname}:${url.port || DEFAULT_ETCD_PORT}`;
}

function text(value: unknown, field: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new StoreSettingsError(field, `must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value.trim();
}

function portNumber(value: unknown, field: string): number {
  const port = typeof value === "string" ? Number(value.trim()) : value;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StoreSettingsError(field, `must be a port number 1-65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

function timeout(value: unknown, field: string): number {
  if (!given(value)) return DEFAULT_ETCD_TIMEOUT_MS;
  const ms = typeof value === "string" ? Number(value.trim()) : value;
  if (typeof ms !== "number" || !Number.isInteger(ms) || ms <= 0) {
    throw new StoreSettingsError(
      field,
      `must be a positive whole number of milliseconds, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}
