/**
 * The host platform (src/platform.ts): the engine reads env variables and keeps the autotuner's
 * choices through it, so that it runs in a browser (web platform: `localStorage` or memory) as in
 * Deno (files); the engine's modules call no Deno API and bundle for the browser without Node's
 * built-ins.
 *
 * @module
 */

import { join } from "node:path";
import { Autotuner, platform, registerKernelFamily, setPlatform, webPlatform } from "../gpu.ts";
import { denoPlatform } from "../src/platform_deno.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import "./gpu.ts";

const root = new URL("../", import.meta.url).pathname;

/** A family without GPU work whose "fast" variant takes 1 fake millisecond, "slow" 10. */
let fakeNow = 0;
registerKernelFamily({
  name: "platform.fake",
  variants: () => ["slow", "fast"],
  defaultVariant: () => "slow",
  prepare: () => ({
    variants: { slow: () => fakeNow += 10, fast: () => fakeNow += 1 },
    dispose: () => {},
  }),
});
const clock = () => fakeNow;

function memoryStorage(): Map<string, string> & Pick<Storage, "getItem" | "setItem"> {
  const map = new Map<string, string>() as
    & Map<string, string>
    & Pick<Storage, "getItem" | "setItem">;
  map.getItem = (key) => map.get(key) ?? null;
  map.setItem = (key, value) => void map.set(key, value);
  return map;
}

Deno.test("importing mod.ts installs the Deno platform", () => {
  assertEquals(platform().name, "deno");
});

Deno.test("the autotuner keeps its choices in the web platform's storage", async () => {
  const storage = memoryStorage();
  const previous = setPlatform(webPlatform({ storage, env: { HAJIME_AUTOTUNE: "1" } }));
  try {
    const cold = new Autotuner({ clock, rounds: 1, calls: 1 });
    assertEquals(cold.cacheFile, "hajime/kernel-choices.json");
    assertEquals((await cold.tune("platform.fake", "k")).variant, "fast");
    const saved = JSON.parse(storage.get("hajime/kernel-choices.json")!);
    assertEquals(saved.entries[0].choices["platform.fake"], { k: "fast" });
    const warm = new Autotuner({ clock: () => assert(false, "the warm start timed") as never });
    assertEquals(warm.choice("platform.fake", "k"), "fast");
    assertEquals(warm.pending(), []);
  } finally {
    setPlatform(previous);
  }
});

Deno.test("the web platform's env turns tuning off and names the cache key", () => {
  const storage = memoryStorage();
  const previous = setPlatform(
    webPlatform({ storage, env: { HAJIME_AUTOTUNE: "0", HAJIME_KERNEL_CACHE: "mine" } }),
  );
  try {
    const tuner = new Autotuner();
    assertEquals([tuner.enabled, tuner.cacheFile], [false, "mine"]);
    assertEquals(tuner.choice("platform.fake", "k"), "slow");
  } finally {
    setPlatform(previous);
  }
  assertEquals(webPlatform({ storage: null }).readText("hajime/x"), null);
});

Deno.test("the web platform's write rejects when the storage refuses (a full quota)", async () => {
  const full = {
    getItem: () => null,
    setItem: () => {
      throw new DOMException("quota exceeded", "QuotaExceededError");
    },
  };
  await assertRejects(() => webPlatform({ storage: full }).writeText("k", "v"), "quota exceeded");
});

Deno.test("the Deno platform reads and replaces files whole, within its permissions", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hajime-platform-" });
  try {
    const path = join(dir, "a", "b", "choices.json");
    assertEquals(denoPlatform.readText(path), null, "a missing file reads as nothing stored");
    await denoPlatform.writeText(path, "one");
    await denoPlatform.writeText(path, "two");
    assertEquals(denoPlatform.readText(path), "two");
    assertEquals([...Deno.readDirSync(join(dir, "a", "b"))].map((e) => e.name), ["choices.json"]);
    Deno.env.set("HAJIME_PLATFORM_TEST", "yes");
    assertEquals(denoPlatform.env("HAJIME_PLATFORM_TEST"), "yes");
    Deno.env.set("HAJIME_CACHE_DIR", dir);
    assertEquals(denoPlatform.cacheLocation("x.json"), join(dir, "x.json"));
  } finally {
    Deno.env.delete("HAJIME_PLATFORM_TEST");
    Deno.env.delete("HAJIME_CACHE_DIR");
    await Deno.remove(dir, { recursive: true });
  }
});

/** The engine's source files: gpu/, kernels/, nn/, optim/, models/, tensor, random, platform. */
function engineFiles(): string[] {
  const files = ["src/tensor.ts", "src/random.ts", "src/platform.ts"];
  for (const folder of ["gpu", "kernels", "nn", "optim", "models"]) {
    for (const entry of Deno.readDirSync(join(root, "src", folder))) {
      if (entry.name.endsWith(".ts")) files.push(`src/${folder}/${entry.name}`);
    }
  }
  return files;
}

Deno.test("the engine calls no Deno API", () => {
  const calls: string[] = [];
  for (const file of engineFiles()) {
    Deno.readTextFileSync(join(root, file)).split("\n").forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, "");
      if (!/^\s*\*/.test(code) && /\bDeno\./.test(code)) {
        calls.push(`${file}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assertEquals(calls, []);
});

Deno.test("web.ts bundles for the browser without Node built-ins or npm packages", async () => {
  const out = await Deno.makeTempDir({ prefix: "hajime-web-bundle-" });
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform=browser", "-o", join(out, "web.js"), "web.ts"],
      cwd: root,
      stdout: "null",
      stderr: "piped",
    }).output();
    assertEquals(code, 0, new TextDecoder().decode(stderr));
    const bundle = Deno.readTextFileSync(join(out, "web.js"));
    const imports = bundle.match(/^import .*$/gm) ?? [];
    assertEquals(imports, [], "the bundle imports nothing");
    assert(bundle.includes("function conv2dForward"), "the bundle holds the engine");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
