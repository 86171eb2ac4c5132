/**
 * hajime in headless Chromium (Dawn over SwiftShader), against a loopback server: the kernel test
 * files run unchanged in a page (references, awkward shapes, poisoned outputs), and the browser
 * example trains BasicCNN with the same losses as the same run in Deno, then shows its chart.
 *
 * Run: `deno task test:browser` (bundles the pages first). Each test starts its own browser on a
 * fresh profile. `HAJIME_SEED` fixes the kernel tests' random inputs, as in Deno;
 * `HAJIME_BROWSER_SCREENSHOT=docs/browser.png` keeps the example's screenshot;
 * `HAJIME_BROWSER_SUITES=matmul,pool` runs only those kernel suites.
 *
 * @module
 */

import { join } from "node:path";
import { Autotuner, setAutotuner } from "../../gpu.ts";
import { cifar10FromUrl, Generator, gpuInfo, initGpu } from "../../web.ts";
import { serveStatic } from "../../examples/browser/serve.ts";
import type { DemoState } from "../../examples/browser/main.ts";
import { ARTICLE_RECIPE, trainArticleModel } from "../../examples/browser/training.ts";
import { assert, assertClose, assertEquals } from "../assert.ts";
import { cifarRecords, randomPixels } from "../fixtures.ts";
import { Browser, bundle, CHROMIUM, hasChromium } from "./chromium.ts";
import type { SuiteReport } from "./kernels_page.ts";

const root = new URL("../../", import.meta.url).pathname;
const ignore = !hasChromium();
if (ignore) console.warn(`browser tests ignored: no Chromium at ${CHROMIUM}`);

/** The kernel suites (tests/<suite>_test.ts), and how long each may take on Dawn/SwiftShader. */
const SUITES = [
  "batch_norm",
  "conv2d",
  "elementwise",
  "image",
  "loss",
  "matmul",
  "ops_relu_fusion",
  "optim",
  "pool",
  "variants",
];
const SUITE_TIMEOUT_MS = 180_000;

/** The pages' bundles, built once for this file into a temporary folder. */
const built = ignore ? null : await bundlePages();
if (built) globalThis.addEventListener("unload", () => Deno.removeSync(built, { recursive: true }));

/**
 * Bundles the kernel tests' page (split per suite; `mod.ts` mapped to `web.ts`) and the example
 * page (as `deno task bundle` does) into a temporary folder.
 */
async function bundlePages(): Promise<string> {
  const out = await Deno.makeTempDir({ prefix: "hajime-browser-" });
  const kernels = [
    "--code-splitting",
    `--import-map=${join(root, "tests/browser/import_map.json")}`,
    `--outdir=${join(out, "kernels")}`,
    "tests/browser/kernels_page.ts",
  ];
  const example = ["-o", join(out, "example", "main.js"), "examples/browser/main.ts"];
  for (const args of [kernels, example]) await bundle(root, args);
  return out;
}

/** Runs `fn` with a fresh browser and a loopback server of the bundles and `files`. */
async function withPage(
  files: Record<string, Uint8Array | string>,
  fn: (browser: Browser, url: string) => Promise<void>,
): Promise<void> {
  const server = serveStatic({
    folders: { "/kernels/": join(built!, "kernels"), "/example/": join(built!, "example") },
    files: {
      "/kernels/index.html": `<!doctype html><script type="module" src="kernels_page.js"></script>`,
      "/example/index.html": await Deno.readTextFile(join(root, "examples/browser/index.html")),
      ...files,
    },
  });
  const browser = await Browser.launch();
  try {
    await fn(browser, server.url);
  } catch (error) {
    const messages = browser.messages.slice(-20).map((m) => `[${m.type}] ${m.text}`).join("\n");
    throw new Error(
      `${(error as Error).message}\n--- page (last 20) ---\n${messages}\n` +
        `--- Chromium (last lines) ---\n${browser.log(2000)}`,
    );
  } finally {
    await browser.close();
    await server.shutdown();
  }
}

Deno.test({
  name: "browser: Chromium gives the page a WebGPU adapter",
  ignore,
  fn: () =>
    withPage({}, async (browser, url) => {
      await browser.open(`${url}kernels/index.html?suite=none`);
      const adapter = await browser.evaluate<string | null>(
        `navigator.gpu?.requestAdapter().then((a) => a && [a.info.vendor, a.info.architecture,
          a.info.device, a.info.description].filter(Boolean).join(" / "))`,
      );
      assert(adapter, "navigator.gpu.requestAdapter() gave no adapter");
      console.log(`adapter: ${adapter}`);
    }),
});

const only = Deno.env.get("HAJIME_BROWSER_SUITES")?.split(",");
for (const suite of SUITES) {
  Deno.test({
    name: `browser: kernel tests on Dawn: ${suite}_test.ts`,
    ignore: ignore || (only !== undefined && !only.includes(suite)),
    fn: (t) =>
      withPage({}, async (browser, url) => {
        const seed = Deno.env.get("HAJIME_SEED");
        await browser.open(`${url}kernels/index.html?suite=${suite}${seed ? `&seed=${seed}` : ""}`);
        const report = await browser.evaluate<SuiteReport>(
          "globalThis.hajimeTests",
          SUITE_TIMEOUT_MS,
        );
        if ("error" in report) throw new Error(report.error);
        assert(report.outcomes.length > 0, `${suite}_test.ts registered no test in the page`);
        for (const outcome of report.outcomes) {
          await t.step({
            name: `${outcome.name} (${outcome.ms.toFixed(0)} ms)`,
            ignore: outcome.status === "ignored",
            fn: () => {
              if (outcome.status === "failed") throw new Error(`${outcome.output}${outcome.error}`);
            },
          });
        }
      }),
  });
}

Deno.test({
  name: "browser: the page harness reports a failed assertion and a GPU error as failures",
  ignore,
  fn: () =>
    withPage({}, async (browser, url) => {
      await browser.open(`${url}kernels/index.html?suite=canary`);
      const report = await browser.evaluate<SuiteReport>("globalThis.hajimeTests");
      if ("error" in report) throw new Error(report.error);
      const seen = report.outcomes.map((o) => [o.name, o.status, o.error ?? ""]);
      assertEquals(seen.map(([name, status]) => [name, status]), [
        ["canary: passes", "ok"],
        ["canary: a failed assertion", "failed"],
        ["canary: a GPU validation error", "failed"],
      ]);
      assert(seen[1][2].includes("canary assertion"), seen[1][2]);
      assert(
        seen[2][2].includes("Canary.badBuffer"),
        `the GPU error names the buffer: ${seen[2][2]}`,
      );
    }),
});

/** A batch file of `count` random images and labels in the official format. */
function randomBatch(rng: Generator, count: number): Uint8Array {
  const labels = Array.from({ length: count }, () => [rng.int(10)]);
  return cifarRecords(labels, labels.map(() => randomPixels(rng, 32, 32)));
}

/** Page vs Deno losses: float32 rounding of two compilers (Tint/SwiftShader, Naga/lavapipe). */
const LOSS_TOLERANCE = { atol: 1e-5, rtol: 1e-4 };

/** Steps of the short training run, and how long the page may take for it. */
const STEPS = 8;
const TRAIN_TIMEOUT_MS = 300_000;

/** Resolves with the page's DemoState once its run has ended. */
const RUN_ENDED = `new Promise((resolve) => {
  const poll = () => ["done", "error", "stopped"].includes(globalThis.hajimeDemo?.phase)
    ? resolve(globalThis.hajimeDemo)
    : setTimeout(poll, 250);
  poll();
})`;

/** Pixels of the chart canvas drawn in the loss curve's colour (#d9480f, chart.ts). */
const LOSS_PIXELS = `(() => {
  const canvas = document.querySelector("#chart");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] === 0xd9 && data[i + 1] === 0x48 && data[i + 2] === 0x0f) count++;
  }
  return count;
})()`;

Deno.test({
  name: "browser: the example page trains BasicCNN with the Deno run's losses, charted",
  ignore,
  fn: async () => {
    const rng = new Generator(14);
    const data = "/example/cifar-10-batches-bin/";
    const files = {
      [`${data}data_batch_1.bin`]: randomBatch(rng, STEPS * 32 + 5),
      [`${data}test_batch.bin`]: randomBatch(rng, 100),
    };
    const options = {
      ...ARTICLE_RECIPE,
      model: "basic-cnn",
      epochs: 1,
      logEvery: 1,
      maxSteps: STEPS,
      accuracySample: 64,
    };
    await withPage(files, async (browser, url) => {
      const query = new URLSearchParams({
        autostart: "1",
        autotune: "0",
        batches: "1",
        ...Object.fromEntries(Object.entries(options).map(([k, v]) => [k, String(v)])),
      });
      const started = performance.now();
      await browser.open(`${url}example/index.html?${query}`);
      const page = await browser.evaluate<DemoState>(RUN_ENDED, TRAIN_TIMEOUT_MS);
      const seconds = (performance.now() - started) / 1000;
      if (page.phase !== "done") {
        throw new Error(`the page's run ended "${page.phase}": ${page.error}`);
      }
      console.log(`page: ${page.steps} steps on ${page.adapter} in ${seconds.toFixed(1)} s`);

      // The same run in Deno, on the same bytes, through the same loader and training code.
      await initGpu();
      setAutotuner(new Autotuner({ enabled: false, cacheFile: null }));
      const base = `${url}${data.slice(1)}`;
      const train = await cifar10FromUrl(base, { files: ["data_batch_1.bin"] });
      const test = await cifar10FromUrl(base, { train: false });
      const deno = await trainArticleModel(train, test, options);
      console.log(`deno (${gpuInfo().description}): ${deno.losses.map((l) => l.toFixed(6))}`);
      console.log(`page: ${page.losses.map(([, l]) => l.toFixed(6))}`);
      assert(
        page.steps === STEPS && deno.steps === STEPS,
        `steps: page ${page.steps}, deno ${deno.steps}`,
      );
      assertClose(page.losses.map(([, loss]) => loss), deno.losses, {
        ...LOSS_TOLERANCE,
        message: "page losses vs Deno's",
      });
      assert(/^epoch:1, step:1, loss:\d+\.\d{4}$/.test(page.lines[0]), `log line ${page.lines[0]}`);
      assert(page.lines.at(-2)!.startsWith("Accuracy on 100 test image: "), page.lines.at(-2));
      assert(page.accuracies.length === STEPS, `${page.accuracies.length} accuracy points`);

      const drawn = await browser.evaluate<number>(LOSS_PIXELS);
      assert(drawn > 100, `the chart shows ${drawn} pixels of the loss curve`);
      const png = await browser.screenshot();
      const keep = Deno.env.get("HAJIME_BROWSER_SCREENSHOT");
      const path = keep ?? join(built!, "example.png");
      await Deno.writeFile(path, png);
      console.log(`screenshot: ${path}`);
    });
  },
});
