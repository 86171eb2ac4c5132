/**
 * The training-step bench on Dawn: bundles bench/train_step_page.ts, serves it on 127.0.0.1 and
 * runs it in headless Chromium (tests/browser/chromium.ts: Dawn over SwiftShader here), printing
 * the page's lines as they come. The page times the same factories, batches and steps as
 * bench/train_step_bench.ts (both use bench/train_step.ts).
 *
 * Usage: deno run -A bench/train_step_browser.ts, with the Deno bench's `HAJIME_BENCH_MODELS` and
 * `HAJIME_BENCH_BATCHES`, and `HAJIME_BENCH_MAX_STEPS=N` to cap the timed steps per round (default
 * 50) where the adapter is slow.
 *
 * @module
 */

import { join } from "node:path";
import { serveStatic } from "../examples/browser/serve.ts";
import { Browser, bundle } from "../tests/browser/chromium.ts";
import type { BenchReport } from "./train_step_page.ts";

const root = new URL("../", import.meta.url).pathname;
const out = await Deno.makeTempDir({ prefix: "hajime-bench-" });
try {
  await bundle(root, ["-o", join(out, "train_step_page.js"), "bench/train_step_page.ts"]);
  const query = new URLSearchParams();
  for (
    const [key, env] of [["models", "MODELS"], ["batches", "BATCHES"], ["maxSteps", "MAX_STEPS"]]
  ) {
    const value = Deno.env.get(`HAJIME_BENCH_${env}`);
    if (value) query.set(key, value);
  }
  const server = serveStatic({
    folders: { "/": out },
    files: {
      "/index.html": `<!doctype html><script type="module" src="train_step_page.js"></script>`,
    },
  });
  const browser = await Browser.launch();
  let shown = 0;
  const show = () => {
    for (; shown < browser.messages.length; shown++) {
      const { type, text } = browser.messages[shown];
      console.log(type === "log" ? text : `[${type}] ${text}`);
    }
  };
  const ticker = setInterval(show, 1000);
  try {
    await browser.open(`${server.url}index.html?${query}`);
    const report = await browser.evaluate<BenchReport>("globalThis.hajimeBench", 6 * 3_600_000);
    show();
    if ("error" in report) throw new Error(`${report.error}\n${browser.log(2000)}`);
  } finally {
    clearInterval(ticker);
    await browser.close();
    await server.shutdown();
  }
} finally {
  await Deno.remove(out, { recursive: true });
}
