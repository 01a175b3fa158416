/**
 * A TCP relay from a namespace's loopback to the host's: lets a plugin running inside a simulated
 * node reach a test's etcd or API server on the host's 127.0.0.1, traffic staying on loopback.
 *
 * The listening socket is made while the JS thread is inside the namespace (Deno.listen is a
 * synchronous op, so it binds there); everything after runs back in the host namespace, where the
 * outgoing connections are made.
 */
import { withNetns } from "../../mod/netlink/mod.ts";

/** A running relay; close() stops accepting and drops open connections. */
export interface Relay {
  close(): void;
}

/** Relays `nsPath`'s 127.0.0.1:`port` to the host's 127.0.0.1:`port`. */
export function relayIntoNetns(nsPath: string, port: number): Relay {
  const listener = withNetns(nsPath, () => Deno.listen({ hostname: "127.0.0.1", port }));
  const open = new Set<Deno.Conn>();
  (async () => {
    for await (const inbound of listener) {
      open.add(inbound);
      Deno.connect({ hostname: "127.0.0.1", port }).then(async (outbound) => {
        open.add(outbound);
        await Promise.allSettled([
          inbound.readable.pipeTo(outbound.writable),
          outbound.readable.pipeTo(inbound.writable),
        ]);
        open.delete(inbound);
        open.delete(outbound);
      }, () => {
        inbound.close();
        open.delete(inbound);
      });
    }
  })().catch(() => {});
  return {
    close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* closed by the pipe already */ }
      }
      open.clear();
    },
  };
}
