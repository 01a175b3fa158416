/**
 * Test fixture: runs mod/cni's delegate exec from inside whatever namespace this process was
 * started in (tests start it under `ip netns exec NODE`), so the reference plugins it runs make
 * their host-side links in the simulated node, never on the real host.
 * Reads {conf, command, containerId, netns, ifname, path} on stdin; prints {result} or {error}.
 */
import { execPlugin } from "../../mod/cni/exec.ts";
import { parseCniArgs } from "../../mod/cni/env.ts";
import { CniError } from "../../mod/cni/errors.ts";
import { readStdin } from "../../mod/cni/stdin.ts";

const req = JSON.parse(new TextDecoder().decode(readStdin()));
try {
  const result = await execPlugin({
    conf: req.conf,
    command: req.command,
    env: {
      command: req.command,
      containerId: req.containerId,
      netns: req.netns,
      ifname: req.ifname,
      args: parseCniArgs(req.cniArgs ?? ""),
      path: req.path,
    },
    timeoutMs: req.timeoutMs,
  });
  console.log(JSON.stringify({ result }));
} catch (e) {
  const err = e as CniError;
  console.log(JSON.stringify({ error: { code: err.code, msg: err.msg, details: err.details } }));
}
