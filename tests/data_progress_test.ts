/**
 * The progress bar (redrawn line on a terminal, a line per tenth elsewhere) and the packed cache
 * file (round trip, fingerprint mismatch, damaged files, default folder).
 *
 * @module
 */

import {
  formatBytes,
  formatDuration,
  Progress,
  type ProgressOutput,
} from "../src/data/progress.ts";
import { defaultCacheDir, digest, readPackedCache, writePackedCache } from "../src/data/cache.ts";
import { assert, assertEquals } from "./assert.ts";

function fake(isTerminal: boolean): { output: ProgressOutput; text: () => string } {
  let text = "";
  return { output: { write: (t) => text += t, isTerminal, columns: 100 }, text: () => text };
}

Deno.test("formats sizes and durations", () => {
  assertEquals(formatBytes(12), "12 B");
  assertEquals(formatBytes(1500), "1.50 kB");
  assertEquals(formatBytes(170_052_171), "170.1 MB");
  assertEquals(formatDuration(7), "0:07");
  assertEquals(formatDuration(754), "12:34");
  assertEquals(formatDuration(3723), "1:02:03");
});

Deno.test("plain output prints a line per tenth with rate and ETA, then a summary", () => {
  let clock = 0;
  const { output, text } = fake(false);
  const bar = new Progress({
    label: "download",
    total: 1_000_000,
    unit: "bytes",
    output,
    now: () => clock,
  });
  for (let i = 0; i < 100; i++) {
    clock += 10; // 10 ms per 10 kB: 1 MB/s
    bar.add(10_000);
  }
  bar.finish();
  bar.finish(); // once only
  const lines = text().trimEnd().split("\n");
  assertEquals(lines.length, 10);
  assertEquals(lines[0], "download:  10% 100.0 kB/1.00 MB 1.00 MB/s ETA 0:01");
  assertEquals(lines[9], "download: 1.00 MB in 1.0 s (1.00 MB/s)");
  assert(!text().includes("\r"));
});

Deno.test("a terminal gets one redrawn line with a bar, at most ten times a second", () => {
  let clock = 0;
  const { output, text } = fake(true);
  const bar = new Progress({ label: "decoding", total: 50, output, now: () => clock });
  for (let i = 0; i < 50; i++) {
    clock += 20;
    bar.add(1);
  }
  bar.finish();
  const draws = text().split("\r").filter((t) => t !== "");
  assertEquals(draws.length, 10 + 1);
  assert(draws[4].startsWith("decoding [#") && draws[4].includes("/50 50/s ETA"), draws[4]);
  assertEquals(draws.at(-1), "decoding: 50 in 1.0 s (50/s)\x1b[K\n");
  assertEquals(text().split("\n").length, 2, "one line in the end");
});

Deno.test("an unknown total shows the amount and rate only", () => {
  const { output, text } = fake(true);
  let clock = 0;
  const bar = new Progress({ label: "get", unit: "bytes", output, now: () => clock });
  clock = 1000;
  bar.add(2000);
  assertEquals(text(), "\rget 2.00 kB 2.00 kB/s\x1b[K");
});

Deno.test("the packed cache round-trips and rejects stale or damaged files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hajime-cache-test-" });
  try {
    const path = `${dir}/sub/x.bin`;
    const data = {
      images: Uint8Array.from({ length: 3 * 2 * 2 * 3 }, (_, i) => i),
      labels: new Int32Array([2, 0, 1]),
      classes: ["a", "b", "ć"],
      height: 2,
      width: 2,
      files: ["a/1.png", "b/2.png", "ć/3.png"],
    };
    await writePackedCache(path, "fp1", data);
    assertEquals([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["x.bin"]);
    const back = await readPackedCache(path, "fp1");
    assertEquals(back, data);
    assertEquals(await readPackedCache(path, "fp2"), null);
    assertEquals(await readPackedCache(`${dir}/missing.bin`, "fp1"), null);
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 1));
    assertEquals(await readPackedCache(path, "fp1"), null);
    assertEquals(digest(["a", "b"]), digest(["a", "b"]));
    assert(digest(["a", "b"]) !== digest(["ab"]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the default cache folder follows HAJIME_CACHE_DIR, then XDG_CACHE_HOME, then HOME", () => {
  const saved = ["HAJIME_CACHE_DIR", "XDG_CACHE_HOME", "HOME"].map((k) =>
    [k, Deno.env.get(k)] as const
  );
  try {
    Deno.env.set("HAJIME_CACHE_DIR", "/own");
    assertEquals(defaultCacheDir(), "/own");
    Deno.env.delete("HAJIME_CACHE_DIR");
    Deno.env.set("XDG_CACHE_HOME", "/xdg");
    assertEquals(defaultCacheDir(), "/xdg/hajime");
    Deno.env.delete("XDG_CACHE_HOME");
    Deno.env.set("HOME", "/home/me");
    assertEquals(defaultCacheDir(), "/home/me/.cache/hajime");
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
});
