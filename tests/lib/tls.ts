/**
 * Throwaway TLS material for the tests' servers (etcd, the Kubernetes API), made with openssl(1):
 * self-signed CAs and certificates they sign. Keys are EC P-256, which openssl makes in milliseconds
 * where RSA takes hundreds; everything is valid for one day. Files go in a directory the caller owns
 * and removes.
 *
 * @example
 * const ca = await makeCa(dir, "ca", "test-ca");
 * const server = await makeSignedCert(dir, "server", "/CN=server", "subjectAltName=IP:127.0.0.1", ca);
 */
import { sh } from "./netns.ts";

/** A certificate and its private key, as paths of PEM files. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** openssl req's options for a new unencrypted EC P-256 key. */
const NEW_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
/** A day is longer than any test; an expired leftover is harmless. */
const VALID = ["-days", "1"];

function filesOf(dir: string, name: string): CertFiles {
  return { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` };
}

/** `openssl req` with a new key into `key`: a signing request into `out`, or with `-x509` a certificate. */
function requestWithNewKey(key: string, out: string, subject: string, ...more: string[]): Promise<string> {
  return sh("openssl", "req", ...more, ...NEW_EC_KEY, "-keyout", key, "-out", out, "-subj", subject);
}

/**
 * A self-signed CA certificate, subject `/CN=<cn>`: `<dir>/<name>.crt` and `<dir>/<name>.key`.
 *
 * @throws ShError (tests/lib/netns.ts) with openssl's words when it fails
 */
export async function makeCa(dir: string, name: string, cn: string): Promise<CertFiles> {
  const files = filesOf(dir, name);
  await requestWithNewKey(files.key, files.cert, `/CN=${cn}`, "-x509", ...VALID);
  return files;
}

/**
 * A certificate signed by `ca`: `<dir>/<name>.crt` and `<dir>/<name>.key` (the request and the
 * extension file stay beside them). The serial number is random: a CA's serial file
 * (-CAcreateserial) would race when two certificates are signed at once.
 *
 * @param subject openssl's -subj, e.g. `/O=system:nodes/CN=system:node:node01`
 * @param ext x509v3 extensions, one `key=value` a line (openssl x509 -extfile), e.g.
 *   `subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth`
 * @throws ShError (tests/lib/netns.ts) with openssl's words when it fails
 */
export async function makeSignedCert(
  dir: string,
  name: string,
  subject: string,
  ext: string,
  ca: CertFiles,
): Promise<CertFiles> {
  const files = filesOf(dir, name);
  const [csr, extFile] = [`${dir}/${name}.csr`, `${dir}/${name}.ext`];
  await Deno.writeTextFile(extFile, `${ext.trimEnd()}\n`);
  await requestWithNewKey(files.key, csr, subject);
  const serial = `0x${crypto.randomUUID().slice(0, 8)}`;
  const signing = ["-CA", ca.cert, "-CAkey", ca.key, "-set_serial", serial, "-extfile", extFile];
  await sh("openssl", "x509", "-req", "-in", csr, ...signing, ...VALID, "-out", files.cert);
  return files;
}
