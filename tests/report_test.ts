/**
 * fit's training accuracy (counted on the GPU, read back with the losses) against the model's own
 * predictions; the training report and the runs index: the charts' geometry (scalable SVGs, integer epoch
 * ticks, legends outside the plot, labelled confusion axes), the live page, the index over a
 * folder of runs, every checked-in metrics.json rendering; and, in headless Chromium, a live
 * report written by a real train.ts run paused mid-training and the index of two runs,
 * screenshotted at 1,200 px and measured (every chart inside the window, the picture not blank).
 *
 * @module
 */

import * as png from "fast-png";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  Adam,
  argmaxRows,
  confusionSvg,
  curvesSvg,
  fit,
  Generator,
  reportHtml,
  type RunMetrics,
  runsIndexHtml,
  Tensor,
  veryBasicNet,
  writeRunsIndex,
} from "../mod.ts";
import { CIFAR10_CLASSES } from "../examples/predict_lib.ts";
import { assert, assertEquals, AssertionError, testSeed } from "./assert.ts";
import { randomPixels, writeImageFolder, writeTree } from "./fixtures.ts";
import "./gpu.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const HAS_CHROMIUM = exists(CHROMIUM);
if (!HAS_CHROMIUM) {
  console.warn(`report_test: ${CHROMIUM} is absent: the browser checks are skipped`);
}

Deno.test("fit: training accuracy per log window and per epoch counts the batches' hits", async () => {
  const rng = new Generator(testSeed("fit train accuracy"));
  const model = veryBasicNet({ seed: rng.int(1000) }); // no batch norm or dropout: train = eval
  // Batches of 5, 5 and 3 images; with logEvery 2 the third is read at the epoch's end.
  const batches = [];
  const hits: number[] = [];
  for (const n of [5, 5, 3]) {
    const pixels = Float32Array.from(randomPixels(rng, n * 32, 32), (v) => v / 255);
    const images = Tensor.from(pixels, [n, 3, 32, 32]);
    const predicted = argmaxRows(await model.forward(images).read(), 10);
    // Some labels are the prediction, the others are not.
    const right = Array.from({ length: n }, () => rng.int(2) === 1);
    const labels = Array.from(predicted, (p, i) => right[i] ? p : (p + 1 + rng.int(9)) % 10);
    hits.push(right.filter(Boolean).length);
    batches.push({ images, labels: Tensor.from(labels, [n], { dtype: "i32" }) });
  }
  // A learning rate too small to change a prediction: the counts are the initial model's.
  const result = await fit(model, batches, {
    optimizer: new Adam(model, { lr: 1e-12 }),
    epochs: 2,
    logEvery: 2,
    log: null,
  });
  const window = (hits[0] + hits[1]) / 10;
  assertEquals(result.history.map((h) => h.trainAccuracy), [window, window]);
  const epoch = (hits[0] + hits[1] + hits[2]) / 13;
  assertEquals(result.epochs.map((e) => e.trainAccuracy), [epoch, epoch], "reset every epoch");
  for (const batch of batches) {
    batch.images.dispose();
    batch.labels.dispose();
  }
});

/** A run's metrics with `epochs` epochs of `logs` log lines each, losses falling. */
function fakeMetrics(epochs: number, logs: number, name = "basic-cnn"): RunMetrics {
  const steps = [];
  for (let e = 1; e <= epochs; e++) {
    for (let l = 1; l <= logs; l++) {
      const globalStep = ((e - 1) * logs + l) * 50;
      steps.push({
        epoch: e,
        step: l * 50,
        globalStep,
        loss: 2.3 / (1 + globalStep / 400),
        trainAccuracy: 10 + 60 * (1 - 1 / (1 + globalStep / 400)),
        lr: 0.003 * (1 - globalStep / (epochs * logs * 60)),
      });
    }
  }
  return {
    model: name,
    parameters: 62958,
    adapter: "llvmpipe",
    flags: { recipe: "article", optimizer: "adam", lr: 0.003, batchSize: 32, epochs },
    seed: 0,
    steps,
    epochs: Array.from({ length: epochs }, (_, i) => ({
      epoch: i + 1,
      trainLoss: 1.9 - 0.2 * i,
      trainAccuracy: 30 + 6 * i,
      testAccuracy: 35 + 5 * i,
      validationLoss: 1.8 - 0.15 * i,
      lr: 0.003,
      imagesPerSecond: 210,
      seconds: 230,
    })),
    classes: ["plane", "car", "bird"],
    perClassAccuracy: [50, 60, 40],
    confusion: [[5, 3, 2], [2, 6, 2], [4, 2, 4]],
    testAccuracy: 35 + 5 * (epochs - 1),
    validationLoss: 1.8 - 0.15 * (epochs - 1),
    wallSeconds: 950,
  };
}

/** The `<svg>…</svg>` elements of `html`, in order. */
function svgs(html: string): string[] {
  return [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}

/** A chart's pieces: its title, x tick labels, plot top, legend boxes and line points. */
function chartParts(svg: string) {
  const title = /font-size="13">([^<]+)</.exec(svg)?.[1] ?? "";
  const xTicks = [...svg.matchAll(/text-anchor="middle" font-size="10">([^<]+)</g)].map((m) =>
    m[1]
  );
  const frame = /<polyline points="[\d.]+,([\d.]+) /.exec(svg);
  const legendBottoms = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.-]+)" width="10" height="10"/g)]
    .map((m) => Number(m[1]) + 10);
  const lineYs = [...svg.matchAll(/<path d="([^"]+)"/g)].flatMap((m) =>
    [...m[1].matchAll(/[ML][\d.]+,([\d.]+)/g)].map((p) => Number(p[1]))
  );
  return { title, xTicks, top: frame ? Number(frame[1]) : NaN, legendBottoms, lineYs };
}

Deno.test("report charts: scalable SVGs, integer epoch ticks from 1, legends above the lines", () => {
  for (const epochs of [1, 3, 7]) {
    const html = reportHtml(fakeMetrics(epochs, 4));
    const charts = svgs(html);
    assertEquals(charts.length, 6, "five charts and the confusion matrix");
    for (const svg of charts) {
      const open = svg.slice(0, svg.indexOf(">"));
      assert(/viewBox="0 0 \d+ \d+"/.test(open) && open.includes('width="100%"'), open);
      assert(!/ (width|height)="[\d.]+(px)?"/.test(open), `no fixed size: ${open}`);
    }
    // curves.svg holds the same five charts in one scalable picture.
    const curves = curvesSvg(fakeMetrics(epochs, 4));
    assert(/^<svg [^>]*viewBox="0 0 840 840" width="100%"/.test(curves), curves.slice(0, 200));
    assertEquals(curves.match(/font-size="13">/g)?.length, 5);
    const titles = charts.slice(0, 5).map((svg) => chartParts(svg).title);
    assertEquals(titles, [
      "Training loss per step",
      "Training accuracy per step (%)",
      "Loss per epoch",
      "Accuracy per epoch (%)",
      "Learning rate",
    ]);
    for (const svg of charts.slice(0, 5)) {
      const { title, xTicks, top, legendBottoms, lineYs } = chartParts(svg);
      const integers = xTicks.every((t) => Number.isInteger(Number(t)));
      assert(xTicks.length >= Math.min(2, epochs) && integers, `${title}: ${xTicks}`);
      if (title.includes("epoch")) {
        assertEquals(Number(xTicks[0]), 1, `${title}: epochs start at 1: ${xTicks}`);
        assert(Number(xTicks.at(-1)) === epochs, `${title}: the last tick is ${epochs}: ${xTicks}`);
      }
      assert(legendBottoms.length > 0 && Number.isFinite(top), title);
      for (const bottom of legendBottoms) assert(bottom < top, `${title}: legend above the plot`);
      for (const y of lineYs) assert(y >= top, `${title}: lines inside the plot`);
    }
  }
});

Deno.test("report: the confusion matrix has labelled axes and class names", () => {
  const svg = confusionSvg(["plane", "car", "bird"], [[5, 3, 2], [2, 6, 2], [4, 2, 4]]);
  for (const text of ["predicted class", "true class", ">plane<", ">car<", ">bird<", ">6<"]) {
    assert(svg.includes(text), `${text} in ${svg}`);
  }
  // Before the first evaluation it still draws, with a note.
  assert(confusionSvg(["a"], []).includes("after the first evaluation"));
});

Deno.test("report: a live page reloads itself and says where training is; a final one does not", () => {
  const metrics = fakeMetrics(2, 3);
  const live = reportHtml(metrics, { live: { progress: "epoch 3 of 4, step 100 of 1563" } });
  assert(live.includes('<meta http-equiv="refresh" content="10">'), live.slice(0, 400));
  assert(live.includes("Training: epoch 3 of 4, step 100 of 1563"));
  const quick = reportHtml(metrics, { live: { progress: "x", refreshSeconds: 3 } });
  assert(quick.includes('content="3"'));
  const final = reportHtml(metrics);
  assert(!final.includes("http-equiv"), "the final report stays still");
  assert(final.includes("Finished in 950 s"));
  // Nothing outside the page: no scripts, stylesheets, images or fonts are fetched.
  for (const html of [live, final, runsIndexHtml([{ name: "a", metrics }])]) {
    assert(!/<script|<link|src=|url\(/i.test(html), "self-contained");
  }
});

Deno.test("report: every checked-in metrics.json renders, with old fields missing and NaN as null", async () => {
  const results = join(ROOT, "results");
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) walk(path);
      else if (entry.name === "metrics.json") files.push(path);
    }
  };
  if (exists(results)) walk(results);
  const metrics = [...files.map((f) => JSON.parse(Deno.readTextFileSync(f))), {
    ...fakeMetrics(2, 2),
    testAccuracy: null,
    epochs: [{ ...fakeMetrics(1, 1).epochs[0], trainAccuracy: undefined, validationLoss: null }],
  }];
  for (const m of metrics) {
    const html = reportHtml(m);
    assert(!html.includes("NaN") && !html.includes("undefined"), m.model);
    assertEquals(svgs(html).length, 6);
  }
  const dir = await Deno.makeTempDir({ prefix: "hajime_report_" });
  try {
    await writeTree(dir, {
      "b/metrics.json": new TextEncoder().encode(JSON.stringify(metrics[0])),
      "a/metrics.json": new TextEncoder().encode(JSON.stringify(fakeMetrics(3, 2, "resnet"))),
      "empty/notes.txt": new TextEncoder().encode("no metrics here"),
      "broken/metrics.json": new TextEncoder().encode("{"),
      "other/metrics.json": new TextEncoder().encode('{"not": "a run"}'),
    });
    const runs = await writeRunsIndex(dir);
    assertEquals(runs.map((r) => r.name), ["a", "b"]);
    const index = await Deno.readTextFile(join(dir, "index.html"));
    assert(index.includes('<a href="a/report.html">a</a>') && index.includes("b/report.html"));
    assert(index.includes("article: adam lr 0.003 batch 32 3 epochs"), "a's recipe");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runs index: one colour per run in every chart and one row per run", () => {
  const runs = [
    { name: "first", metrics: fakeMetrics(3, 2) },
    { name: "second", metrics: { ...fakeMetrics(2, 2, "resnet"), flags: { optimizer: "sgd" } } },
  ];
  const html = runsIndexHtml(runs);
  const charts = svgs(html);
  assertEquals(charts.map((svg) => chartParts(svg).title), [
    "Test accuracy per epoch (%)",
    "Validation loss per epoch",
    "Training loss per step",
  ]);
  for (const svg of charts) {
    const colours = [...svg.matchAll(/<path d="[^"]+" fill="none" stroke="([^"]+)"/g)].map((m) =>
      m[1]
    );
    assertEquals(new Set(colours).size, 2, "two runs overlaid");
    assert(svg.includes(">first<") && svg.includes(">second<"), "each run in the legend");
  }
  assertEquals(html.match(/<tr><td class="name">/g)?.length, 2);
  assert(html.includes("Runs (2)"));
});

/** Where a page's boxes lie, measured by the browser. */
interface Layout {
  innerWidth: number;
  scrollWidth: number;
  svgs: { left: number; right: number; width: number; height: number }[];
}

/** Appended to every HTML page served: posts the page's layout back before the screenshot. */
const MEASURE = `<script>(() => {
  const svgs = [...document.querySelectorAll("svg")].map((svg) => {
    const { left, right, width, height } = svg.getBoundingClientRect();
    return { left, right, width, height };
  });
  const request = new XMLHttpRequest();
  request.open("POST", "/__layout", false);
  request.send(JSON.stringify({
    innerWidth, scrollWidth: document.documentElement.scrollWidth, svgs,
  }));
})();</script>`;

/**
 * Serves `dir` on 127.0.0.1 with {@link MEASURE} appended to HTML pages; `layouts` receives what
 * the pages post.
 */
function layoutServer(dir: string) {
  const layouts: Layout[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    const path = decodeURIComponent(new URL(r.url).pathname);
    if (r.method === "POST" && path === "/__layout") {
      layouts.push(await r.json());
      return new Response("ok");
    }
    try {
      const file = await Deno.readFile(join(dir, path));
      if (!path.endsWith(".html")) return new Response(file);
      const html = new TextDecoder().decode(file).replace("</body>", `${MEASURE}</body>`);
      return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    layouts,
    shutdown: () => server.shutdown(),
  };
}

/** Screenshots `url` in headless Chromium in a 1200×1600 window into `file`. */
async function screenshot(url: string, file: string): Promise<void> {
  const profile = await Deno.makeTempDir({ prefix: "hajime_chromium_" });
  try {
    const { code, stderr } = await new Deno.Command(CHROMIUM, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        `--user-data-dir=${profile}`,
        `--screenshot=${file}`,
        "--window-size=1200,1600",
        url,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    if (code !== 0 || !exists(file)) {
      throw new AssertionError(`chromium exited with ${code}: ${new TextDecoder().decode(stderr)}`);
    }
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** Checks a screenshot: 1200×1600, many colours, not mostly one colour. */
function checkPicture(file: string): void {
  const image = png.decode(Deno.readFileSync(file));
  assertEquals([image.width, image.height], [1200, 1600], file);
  const channels = image.channels;
  const counts = new Map<number, number>();
  for (let i = 0; i < image.width * image.height; i++) {
    const [r, g, b] = [0, 1, 2].map((c) => image.data[i * channels + c]);
    const key = (r << 16) | (g << 8) | b;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const commonest = Math.max(...counts.values()) / (image.width * image.height);
  assert(counts.size >= 32, `${file}: only ${counts.size} colours`);
  assert(commonest < 0.98, `${file}: ${(100 * commonest).toFixed(1)} % one colour`);
}

/** Checks that every SVG of a page lies inside the window and nothing scrolls sideways. */
function checkLayout(layout: Layout | undefined, charts: number, page: string): void {
  assert(layout, `${page} posted its layout`);
  assert(layout.innerWidth > 0 && layout.innerWidth <= 1200, `${page}: ${layout.innerWidth}`);
  assertEquals(layout.svgs.length, charts, `${page}: SVGs`);
  for (const [i, box] of layout.svgs.entries()) {
    assert(
      box.left >= 0 && box.right <= layout.innerWidth + 0.5 && box.width > 200 && box.height > 100,
      `${page}: SVG ${i} at ${box.left}…${box.right} of a ${layout.innerWidth} px window`,
    );
  }
  assert(layout.scrollWidth <= layout.innerWidth, `${page}: scrolls sideways`);
}

/**
 * Runs train.ts on `data` into `out`; when `whilePaused` is given, pauses the process (SIGSTOP)
 * as soon as it prints the end of epoch 1, calls it, and lets the process go on.
 */
async function train(
  data: string,
  out: string,
  extra: string[],
  whilePaused?: () => Promise<void>,
): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "examples/train.ts",
      "--model=very-basic-net",
      `--data=${data}`,
      "--batch-size=4",
      "--log-every=3",
      `--out=${out}`,
      "--no-download",
      ...extra,
    ],
    cwd: ROOT,
    env: { HAJIME_CACHE_DIR: join(data, "cache"), HAJIME_AUTOTUNE: "0" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  let paused = !whilePaused;
  try {
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      stdout += text;
      if (!paused && /^epoch 1: /m.test(stdout)) {
        paused = true;
        child.kill("SIGSTOP");
        try {
          await whilePaused!();
        } finally {
          child.kill("SIGCONT");
        }
      }
    }
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    await stderr;
    throw error;
  }
  const { code } = await child.status;
  assertEquals(code, 0, `train.ts: ${await stderr}\n${stdout}`);
  assert(paused, `train.ts never printed the end of epoch 1:\n${stdout}`);
  return stdout;
}

Deno.test({
  name: "in Chromium: a live report mid-training and the index of two runs fit 1,200 px",
  ignore: !HAS_CHROMIUM,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "hajime_report_browser_" });
    const server = layoutServer(dir);
    try {
      const data = join(dir, "data");
      await writeImageFolder(new Generator(testSeed("report browser")), data, CIFAR10_CLASSES, {
        train: 6,
        test: 3,
      });
      const runs = join(dir, "runs");
      await train(data, join(runs, "first"), ["--epochs=3"], async () => {
        const html = await Deno.readTextFile(join(runs, "first", "report.html"));
        assert(html.includes('http-equiv="refresh"'), "the report is live while training");
        assert(html.includes("Training: epoch 1 of 3 done"), "it says where training is");
        await screenshot(`${server.url}/runs/first/report.html`, join(dir, "live.png"));
        checkPicture(join(dir, "live.png"));
        checkLayout(server.layouts.pop(), 6, "the live report");
      });
      const final = await Deno.readTextFile(join(runs, "first", "report.html"));
      assert(!final.includes("http-equiv"), "the finished report stays still");

      const second = await train(data, join(runs, "second"), [
        "--epochs=2",
        "--optimizer=sgd",
        "--lr=0.05",
      ]);
      assert(second.includes("compares 2 runs"), second);
      const index = await Deno.readTextFile(join(runs, "index.html"));
      assert(index.includes("first/report.html") && index.includes("second/report.html"));
      await screenshot(`${server.url}/runs/index.html`, join(dir, "index.png"));
      checkPicture(join(dir, "index.png"));
      checkLayout(server.layouts.pop(), 3, "the runs index");
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
