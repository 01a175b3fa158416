/**
 * The codec between a pod's Kubernetes labels/annotations and its ratchet link ends.
 * @module
 */
export * from "./types.ts";
export { normalizeLinkEnd, parsePodLinks } from "./parse.ts";
export { type PodIdentity, podLinksToMetadata } from "./render.ts";
export { dnsLabelProblem, dnsSubdomainProblem, ifnameProblem, labelValueProblem } from "./names.ts";
