/**
 * Name rules shared by the links codec and the DSL: Kubernetes object names, label values and
 * interface names. Each returns "" for a good name, or why it is not.
 */
import { checkIfname } from "../cni/env.ts";

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

const ifnameVerdicts = new Map<string, string>();

/** The kernel's interface name rules (<= 15 bytes, not . or .., no '/', ':' or whitespace). */
export function ifnameProblem(s: string): string {
  let verdict = ifnameVerdicts.get(s);
  if (verdict !== undefined) return verdict;
  try {
    checkIfname(s);
    verdict = "";
  } catch (e) {
    // checkIfname is the one statement of the rule; its CniError carries the reason in details.
    verdict = (e as { details?: string }).details || String(e);
  }
  // Topologies reuse a few names thousands of times; the bound keeps a fuzzer from growing it forever.
  if (ifnameVerdicts.size > 4096) ifnameVerdicts.clear();
  ifnameVerdicts.set(s, verdict);
  return verdict;
}
