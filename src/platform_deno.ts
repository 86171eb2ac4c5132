/**
 * The Deno platform (src/platform.ts): environment variables and files, each only where the
 * process already has the permission (a missing permission reads as "unset" or "nothing stored",
 * never a prompt). Cache entries live in {@linkcode defaultCacheDir}. `mod.ts` installs it.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { defaultCacheDir } from "./data/cache.ts";
import type { Platform } from "./platform.ts";

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * Env variables and files through Deno's APIs, within the permissions granted.
 *
 * @example
 * ```ts
 * import { setPlatform } from "@hajime/nn/gpu";
 * import { denoPlatform } from "./platform_deno.ts";
 * setPlatform(denoPlatform); // what importing @hajime/nn does
 * console.log(denoPlatform.cacheLocation("kernel-choices.json"));
 * ```
 */
export const denoPlatform: Platform = {
  name: "deno",
  env(name) {
    return granted({ name: "env", variable: name }) ? Deno.env.get(name) : undefined;
  },
  cacheLocation(name) {
    // defaultCacheDir reads several variables: only ask when env access is granted as a whole.
    if (!granted({ name: "env" })) return null;
    const dir = defaultCacheDir();
    return dir ? join(dir, name) : null;
  },
  readText(path) {
    if (!granted({ name: "read", path })) return null;
    try {
      return Deno.readTextFileSync(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  },
  async writeText(path, text) {
    if (!granted({ name: "write", path })) return;
    // A temporary file renamed into place, so readers in other processes never see half a file.
    const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await Deno.mkdir(dirname(path), { recursive: true });
      await Deno.writeTextFile(temp, text);
      await Deno.rename(temp, path);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
  },
};
