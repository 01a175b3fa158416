/**
 * Creating an interface inside a pod's namespace without ever holding its final name anywhere
 * else, so two pods asking for eth1 at the same time cannot collide.
 */
import { isNotFound } from "./errors.ts";
import type { Handle } from "./handle.ts";
import type { Link, LinkSpec } from "./link.ts";

/** How {@link linkAddInNetns} gets the link into the target namespace. */
export interface MoveInOptions {
  /**
   * "direct" (default): create it there at once (IFLA_NET_NS_FD), falling back to "move" when
   * the kernel refuses that with EOPNOTSUPP or EINVAL. "move": create here, then move it.
   */
  via?: "direct" | "move";
}

/** A unique interface name of the maximum 15 bytes: "tmp" and 12 hex digits. */
export function tempIfName(): string {
  const r = crypto.getRandomValues(new Uint8Array(6));
  return "tmp" + Array.from(r, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Creates `spec` from `host` into `target` under a temporary name, renames it to `spec.name`
 * there, and brings it up if `spec.up`. Every step that fails undoes the ones before it, so a
 * failure leaves neither a temporary nor a half-configured interface (for a veth: neither end).
 * Should an undo step itself fail, the thrown error carries it in `rollbackFailures`.
 *
 * @returns the link as it is in the target namespace
 * @example
 * const eth1 = linkAddInNetns(host, pod, { kind: "macvlan", name: "eth1", master: "eth0", up: true });
 */
export function linkAddInNetns(host: Handle, target: Handle, spec: LinkSpec, opts: MoveInOptions = {}): Link {
  const tmp = tempIfName();
  const failures: unknown[] = [];
  using undo = new DisposableStack();
  /** Defers an undo step; one that fails is kept for the error, since the original error must stay the one thrown. */
  const defer = (step: () => void) =>
    undo.defer(() => {
      try {
        step();
      } catch (u) {
        if (!isNotFound(u)) failures.push(u);
      }
    });
  try {
    const created = { ...spec, name: tmp, up: false };
    // Where the new link is now: the host until it has moved, then the target by index.
    let made: { in: Handle; ref: string | number } | undefined;
    defer(() => made && made.in.linkDel(made.ref));
    let direct = opts.via !== "move";
    if (direct) {
      try {
        host.linkAdd({ ...created, nsFd: target.nsFd });
        made = { in: target, ref: tmp };
      } catch (e) {
        const errno = (e as { errno?: string }).errno;
        if (errno !== "EOPNOTSUPP" && errno !== "EINVAL") throw e;
        direct = false;
      }
    }
    if (!direct) {
      host.linkAdd(created);
      made = { in: host, ref: tmp };
      host.linkSetNetnsFd(tmp, target);
      made = { in: target, ref: tmp };
    }
    const found = target.linkByName(tmp);
    if (!found) throw new Error(`${spec.kind} ${tmp} vanished from the target namespace after creation`);
    made = { in: target, ref: found.index };
    target.linkRename(found.index, spec.name);
    if (spec.up) target.linkSetUp(found.index);
    const link = target.linkByIndex(found.index);
    if (!link) throw new Error(`${spec.kind} ${spec.name} vanished from the target namespace`);
    undo.move(); // made: nothing to undo
    return link;
  } catch (e) {
    undo.dispose();
    // The original error stays the one thrown (its errno is what callers map); a failed undo
    // rides along rather than being printed, since plugins must not write to stdout.
    if (failures.length && e instanceof Error) Object.assign(e, { rollbackFailures: failures });
    throw e;
  }
}
