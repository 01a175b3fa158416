/**
 * The DSL's `apply` and `status` need a store; they take the same --store / --etcd-* flags as the
 * other commands, which are split off here before the rest goes to the DSL's own parser.
 */
import { type Store, storeFlagOptions, storeSettingsFromFlags, withStore } from "../store/mod.ts";

/** Splits `--store DIR`, `--etcd-endpoints=URLS`, ... out of `argv`; the rest keeps its order. */
export function splitStoreFlags(argv: string[]): { flags: Record<string, string>; rest: string[] } {
  const flags: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!m || !(m[1] in storeFlagOptions)) {
      rest.push(arg);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    flags[m[1]] = value;
  }
  return { flags, rest };
}

/** Runs `fn` with the store the flags in `argv` name (the file store by default), closing it after. */
export async function withFlagStore(
  argv: string[],
  fn: (rest: string[], store: Store) => Promise<number>,
): Promise<number> {
  const { flags, rest } = splitStoreFlags(argv);
  return await withStore(storeSettingsFromFlags(flags), (store) => fn(rest, store));
}
