import { KubeConfigError } from "./errors.ts";

/** Reads a credential or config file, blaming the setting that named it when that fails. */
export async function readSettingFile(path: string, field: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new KubeConfigError(field, `cannot read ${path}: ${e instanceof Error ? e.message : e}`);
  }
}
