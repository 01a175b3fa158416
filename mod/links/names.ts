/**
 * Name rules shared by the CNI environment, the plugin configs, the links codec and the DSL:
 * Kubernetes object names, label values and interface names. Each returns "" for a good name, or
 * why it is not; mod/cni's checkIfname is the thrower over {@link ifnameProblem}.
 */

/** RFC 1123 label (namespaces, node and pod names in the DSL): a-z 0-9 '-', alphanumeric ends, <= 63. */
export function dnsLabelProblem(s: string): string {
  if (s.length === 0) return "it is empty";
  if (s.length > 63) return "it is longer than 63 characters";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
    if (alnum) continue;
    if (c !== 45 /* - */) return "only lower-case letters, digits and '-' are allowed";
    if (i === 0 || i === s.length - 1) return "it must start and end with a letter or digit";
  }
  return "";
}

/** RFC 1123 subdomain (what Kubernetes allows for a pod name): dot-separated labels, <= 253. */
export function dnsSubdomainProblem(s: string): string {
  if (s.length > 253) return "it is longer than 253 characters";
  for (const part of s.split(".")) {
    const p = dnsLabelProblem(part);
    if (p) return p;
  }
  return "";
}

/** A Kubernetes label value: <= 63 of A-Z a-z 0-9 '-' '_' '.', alphanumeric ends, or empty. */
export function labelValueProblem(s: string): string {
  if (s.length > 63) return "it is longer than 63 characters";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
    if (alnum) continue;
    if (c !== 45 && c !== 95 && c !== 46) return "only letters, digits, '-', '_' and '.' are allowed";
    if (i === 0 || i === s.length - 1) return "it must start and end with a letter or digit";
  }
  return "";
}

/**
 * The kernel's rules for an interface name (dev_valid_name, net/core/dev.c), which the CNI spec
 * repeats for CNI_IFNAME: at most 15 bytes (IFNAMSIZ - 1), not "." or "..", no '/', ':' or
 * whitespace.
 */
export function ifnameProblem(s: string): string {
  if (!s) return "it is empty";
  if (new TextEncoder().encode(s).length > 15) return "it is longer than 15 bytes";
  if (s === "." || s === "..") return "it may not be . or ..";
  if (/[/:\s]/.test(s)) return "it may not contain '/', ':' or whitespace";
  return "";
}
