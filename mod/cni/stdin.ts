/**
 * Reads all of stdin, or nothing when stdin is a terminal (a person ran us by hand). Synchronous
 * reads: the streams machinery would cost every plugin call several milliseconds to set up.
 */
export function readStdin(): Uint8Array {
  if (Deno.stdin.isTerminal()) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const buf = new Uint8Array(64 * 1024);
    const n = Deno.stdin.readSync(buf);
    if (n === null) break;
    chunks.push(buf.subarray(0, n));
    size += n;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
