/**
 * Route and address scopes by name, as iproute2 prints them ("global" for 0).
 */

/** A scope by name ("universe" is accepted as the kernel's name for "global"), or a raw number. */
export type Scope = "global" | "universe" | "site" | "link" | "host" | "nowhere" | number;

const SCOPES: Record<string, number> = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 };

/** The kernel's number for a scope. */
export function scopeNumber(s: Scope): number {
  if (typeof s === "number") return s;
  const n = s === "universe" ? 0 : SCOPES[s];
  if (n === undefined) throw new TypeError(`unknown scope ${JSON.stringify(s)}`);
  return n;
}

/** The name for a kernel scope number, or the number itself when it has none. */
export function scopeName(n: number): Scope {
  for (const [k, v] of Object.entries(SCOPES)) if (v === n) return k as Scope;
  return n;
}
