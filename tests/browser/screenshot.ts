/**
 * Takes the README's picture of the browser example (docs/browser.png): serves the bundled page
 * (`deno task bundle`) with the CIFAR-10 binary batches of `--data`, lets headless Chromium run
 * it with the form preset by `--query` until the run ends, and saves a screenshot.
 *
 * Usage: deno run -A tests/browser/screenshot.ts --data data/cifar-10-batches-bin
 *   --out docs/browser.png --query "model=basic-cnn&maxSteps=300&logEvery=25"
 *
 * @module
 */

import { join } from "node:path";
import { serveStatic } from "../../examples/browser/serve.ts";
import type { DemoState } from "../../examples/browser/main.ts";
import { Browser } from "./chromium.ts";

function flag(name: string, fallback: string): string {
  const at = Deno.args.indexOf(name);
  return at >= 0 && at + 1 < Deno.args.length ? Deno.args[at + 1] : fallback;
}

const page = new URL("../../examples/browser/", import.meta.url).pathname;
const data = flag("--data", "data/cifar-10-batches-bin");
const out = flag("--out", "docs/browser.png");
const query = flag("--query", "");
for (const path of [join(page, "main.js"), join(data, "data_batch_1.bin")]) {
  try {
    Deno.statSync(path);
  } catch {
    console.error(`error: ${path} is missing (run \`deno task bundle\`; check --data)`);
    Deno.exit(1);
  }
}
const server = serveStatic({ folders: { "/": page, "/cifar-10-batches-bin/": data } });
const browser = await Browser.launch(1200, 720);
try {
  await browser.open(`${server.url}index.html?autostart=1&${query}`);
  const state = await browser.evaluate<DemoState>(
    `new Promise((resolve) => {
      const poll = () => ["done", "error", "stopped"].includes(globalThis.hajimeDemo.phase)
        ? resolve(globalThis.hajimeDemo)
        : setTimeout(poll, 500);
      poll();
    })`,
    3_600_000,
  );
  console.log(state.lines.join("\n"));
  if (state.phase !== "done") throw new Error(`the run ended "${state.phase}": ${state.error}`);
  await Deno.writeFile(out, await browser.screenshot());
  console.log(`${out}: ${state.steps} steps on ${state.adapter}`);
} finally {
  await browser.close();
  await server.shutdown();
}
