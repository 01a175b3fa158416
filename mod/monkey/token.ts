/** The bearer token that guards monkey's writes: read from a file, created there on first run. */
import { DEFAULT_STORE_DIR, type StoreSettings, unknownKind } from "../store/mod.ts";

/** The token file's name beside the embedded store (or in the default store directory for etcd). */
export const TOKEN_FILE_NAME = "monkey.token";

/** The token file exists but cannot serve: unreadable, empty or too short. */
export class TokenFileError extends Error {
  constructor(readonly path: string, readonly problem: string) {
    super(`token file ${path}: ${problem}`);
    this.name = "TokenFileError";
  }
}

/** Guessing 16 characters of base64 takes 2^96 tries; shorter hand-written tokens are refused. */
const MIN_TOKEN_LENGTH = 16;

/** Where the token lives when `--token-file` is not given: next to the data it guards. */
export function defaultTokenFile(settings: StoreSettings): string {
  switch (settings.kind) {
    case "file":
      return `${settings.dir}/${TOKEN_FILE_NAME}`;
    case "etcd":
      return `${DEFAULT_STORE_DIR}/${TOKEN_FILE_NAME}`;
    default:
      return unknownKind(settings);
  }
}

/**
 * Reads the token from `path`, or, when the file is absent, writes a new random one there (mode 0600,
 * never replacing a file another process created meanwhile). `created` tells the caller to print the path.
 */
export async function loadOrCreateToken(path: string): Promise<{ token: string; created: boolean }> {
  try {
    return { token: checkToken(path, await Deno.readTextFile(path)), created: false };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw wrap(path, e);
  }
  const token = randomToken();
  const dir = path.slice(0, path.lastIndexOf("/"));
  try {
    if (dir) await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(path, token + "\n", { createNew: true, mode: 0o600 });
    // The mode passed at creation is filtered by the umask; make sure it is exactly owner-only.
    await Deno.chmod(path, 0o600);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return loadOrCreateToken(path);
    throw wrap(path, e);
  }
  return { token, created: true };
}

function checkToken(path: string, text: string): string {
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new TokenFileError(
      path,
      `holds ${
        token.length ? "a token shorter than" : "no token; write one of at least"
      } ${MIN_TOKEN_LENGTH} characters`,
    );
  }
  return token;
}

function wrap(path: string, e: unknown): Error {
  return e instanceof TokenFileError ? e : new TokenFileError(path, (e as Error).message);
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Compares in time independent of where the strings differ, so the token cannot be found byte by byte. */
export function tokenMatches(given: string, token: string): boolean {
  const a = new TextEncoder().encode(given), b = new TextEncoder().encode(token);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}
