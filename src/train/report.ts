/**
 * A training run's report: `metrics.json`, `curves.svg` (loss, accuracy and learning rate against
 * steps and epochs), `confusion.svg`, and a self-contained `report.html` with the charts and the
 * tables. While a run trains, `report.html` is a live page that reloads itself; `index.html` in a
 * folder of runs overlays their curves and lists their recipes.
 *
 * Every chart is an SVG with a `viewBox` and `width="100%"`, so it scales to the page's width.
 *
 * @module
 */

import { join } from "node:path";

/** One logged running loss (the article's `epoch:E, step:S, loss:L` line). */
export interface StepRecord {
  /** 1-based epoch. */
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  /** Global step since the start of training. */
  globalStep: number;
  /** Mean loss of the last logged steps. */
  loss: number;
  /** Training accuracy in percent over the steps since the previous log line. */
  trainAccuracy?: number;
  /** Learning rate at that step. */
  lr: number;
}

/** What is known at the end of each epoch. */
export interface EpochRecord {
  /** 1-based epoch. */
  epoch: number;
  /** Mean training loss over the epoch. */
  trainLoss: number;
  /** Training accuracy in percent over the epoch (in training mode, as the steps ran). */
  trainAccuracy?: number;
  /** Test accuracy in percent. */
  testAccuracy: number;
  /** Validation loss as the article computes it. */
  validationLoss: number;
  /** Learning rate at the end of the epoch. */
  lr: number;
  /** Training throughput over the epoch. */
  imagesPerSecond: number;
  /** Seconds the epoch's training took. */
  seconds: number;
}

/** Everything a run writes into `metrics.json`. */
export interface RunMetrics {
  /** Registered model name. */
  model: string;
  /** Trainable parameter count. */
  parameters: number;
  /** Adapter description. */
  adapter: string;
  /** The flags the run was started with. */
  flags: Record<string, unknown>;
  /** Seed of the generator. */
  seed: number;
  /** Logged running losses. */
  steps: StepRecord[];
  /** Per-epoch summaries. */
  epochs: EpochRecord[];
  /** Class names in label order. */
  classes: string[];
  /** Per-class accuracy in percent (of the last evaluation). */
  perClassAccuracy: number[];
  /** Confusion matrix of the last evaluation, rows = true class, columns = predicted class. */
  confusion: number[][];
  /** Test accuracy in percent (of the last evaluation). */
  testAccuracy: number;
  /** Validation loss (of the last evaluation). */
  validationLoss: number;
  /** Wall-clock seconds of the whole run. */
  wallSeconds: number;
}

/** Options of {@link reportHtml} and {@link writeReport}. */
export interface ReportOptions {
  /**
   * A run still training: the page says where it is (`progress`, e.g. "epoch 2 of 4, step 300
   * of 1563") and reloads itself every `refreshSeconds` (default 10).
   */
  live?: { progress: string; refreshSeconds?: number };
}

/** One run of a folder of runs: its folder name and its `metrics.json`. */
export interface RunEntry {
  /** The run's folder name (its report is `<name>/report.html`). */
  name: string;
  /** The run's metrics. */
  metrics: RunMetrics;
}

/** Matplotlib's ten category colours: series and runs take them in turn. */
const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** `value` with `digits` decimals, or "–" when it is missing or not finite (NaN is null in JSON). */
function fixed(value: number | null | undefined, digits: number): string {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

/** A tick label: at most 6 significant digits, no float noise (0.30000000000000004 is 0.3). */
function tickLabel(value: number): string {
  return String(Number(value.toPrecision(6)));
}

/** A tick spacing of 1, 2 or 5 × 10^k giving about `count` intervals over `span`. */
function niceStep(span: number, count: number, integer: boolean): number {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9)) ?? raw;
  return integer ? Math.max(1, Math.round(step)) : step;
}

/** The multiples of `step` in [min, max]. */
function ticksBetween(min: number, max: number, step: number): number[] {
  const ticks: number[] = [];
  for (let k = Math.ceil(min / step - 1e-9); k * step <= max + step * 1e-9; k++) {
    ticks.push(Number((k * step).toPrecision(12)));
  }
  return ticks;
}

/** One line of a chart, in data coordinates. */
interface Series {
  label: string;
  color: string;
  points: [number, number][];
}

/** A line chart: what {@link chartSvg} draws. */
interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  /** "epoch": integer ticks, half an epoch of margin each side; "step": integer ticks from 0. */
  x: "epoch" | "step";
  series: Series[];
}

const CHART_WIDTH = 420;
const CHART_HEIGHT = 280;
/** Estimated width of a character at the legend's font size (11 px sans-serif). */
const CHAR_WIDTH = 6.3;

/** Legend entries laid out in rows above the plot (never over a line), wrapping at `width`. */
function legend(series: readonly Series[], left: number, width: number, top: number) {
  const parts: string[] = [];
  let x = left;
  let y = top;
  for (const s of series) {
    const itemWidth = 16 + s.label.length * CHAR_WIDTH + 14;
    if (x > left && x + itemWidth > left + width) [x, y] = [left, y + 16];
    parts.push(
      `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${s.color}"/>`,
      `<text x="${x + 14}" y="${y}">${escapeXml(s.label)}</text>`,
    );
    x += itemWidth;
  }
  return { svg: parts.join(""), bottom: y + 8 };
}

/** The chart's content in a CHART_WIDTH × CHART_HEIGHT box (no `<svg>` around it). */
function chartBody(chart: Chart): string {
  const series = chart.series.map((s) => ({
    ...s,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  }));
  const left = 62;
  const right = CHART_WIDTH - 14;
  const key = legend(series, left, right - left, 40);
  const top = key.bottom + 8;
  const bottom = CHART_HEIGHT - 42;
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);

  const xMax = Math.max(1, ...xs);
  const [x0, x1] = chart.x === "epoch" ? [0.5, Math.round(xMax) + 0.5] : [0, xMax];
  const xStep = niceStep(x1 - x0, chart.x === "epoch" ? 10 : 6, true);
  let [yMin, yMax] = ys.length > 0 ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (yMax === yMin) {
    [yMin, yMax] = [yMin - (Math.abs(yMin) || 1) / 2, yMax + (Math.abs(yMax) || 1) / 2];
  }
  const yStep = niceStep(yMax - yMin, 5, false);
  const [y0, y1] = [Math.floor(yMin / yStep) * yStep, Math.ceil(yMax / yStep) * yStep];
  const px = (x: number) => (left + ((x - x0) / (x1 - x0)) * (right - left)).toFixed(1);
  const py = (y: number) => (bottom - ((y - y0) / (y1 - y0)) * (bottom - top)).toFixed(1);

  const parts = [
    `<text x="${CHART_WIDTH / 2}" y="20" text-anchor="middle" font-weight="bold" font-size="13">${
      escapeXml(chart.title)
    }</text>`,
    key.svg,
  ];
  for (const t of ticksBetween(y0, y1, yStep)) {
    parts.push(
      `<line x1="${left}" y1="${py(t)}" x2="${right}" y2="${py(t)}" stroke="#e4e4e4"/>`,
      `<text x="${left - 6}" y="${Number(py(t)) + 4}" text-anchor="end" font-size="10">${
        tickLabel(t)
      }</text>`,
    );
  }
  for (const t of ticksBetween(x0, x1, xStep)) {
    parts.push(
      `<line x1="${px(t)}" y1="${bottom}" x2="${px(t)}" y2="${bottom + 4}" stroke="#333"/>`,
      `<text x="${px(t)}" y="${bottom + 16}" text-anchor="middle" font-size="10">${
        tickLabel(t)
      }</text>`,
    );
  }
  parts.push(
    `<polyline points="${left},${top} ${left},${bottom} ${right},${bottom}" fill="none" stroke="#333"/>`,
    `<text x="${(left + right) / 2}" y="${CHART_HEIGHT - 8}" text-anchor="middle">${
      escapeXml(chart.xLabel)
    }</text>`,
    `<text transform="translate(14,${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${
      escapeXml(chart.yLabel)
    }</text>`,
  );
  if (all.length === 0) {
    parts.push(
      `<text x="${(left + right) / 2}" y="${
        (top + bottom) / 2
      }" text-anchor="middle" fill="#888">no data yet</text>`,
    );
  }
  for (const s of series) {
    const d = s.points.map(([x, y], j) => `${j ? "L" : "M"}${px(x)},${py(y)}`).join(" ");
    if (s.points.length > 1) {
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"/>`);
    }
    for (const [x, y] of s.points.length <= 60 ? s.points : []) {
      parts.push(`<circle cx="${px(x)}" cy="${py(y)}" r="2.5" fill="${s.color}"/>`);
    }
  }
  return `<rect width="${CHART_WIDTH}" height="${CHART_HEIGHT}" fill="white"/>${parts.join("")}`;
}

/** An `<svg>` of `width`×`height` units that scales to its container's width. */
function svg(width: number, height: number, body: string, title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${
    escapeXml(title)
  }" font-family="sans-serif" font-size="11">${body}</svg>`;
}

function chartSvg(chart: Chart): string {
  return svg(CHART_WIDTH, CHART_HEIGHT, chartBody(chart), chart.title);
}

/** The charts of one run: loss and training accuracy per step, loss and accuracy per epoch, lr. */
function runCharts(metrics: Pick<RunMetrics, "steps" | "epochs">): Chart[] {
  const { steps, epochs } = metrics;
  const line = (label: string, color: string, points: [number, number][]) => ({
    label,
    color,
    points,
  });
  return [
    {
      title: "Training loss per step",
      xLabel: "step",
      yLabel: "running loss",
      x: "step",
      series: [line("running loss", PALETTE[0], steps.map((s) => [s.globalStep, s.loss]))],
    },
    {
      title: "Training accuracy per step (%)",
      xLabel: "step",
      yLabel: "accuracy %",
      x: "step",
      series: [
        line(
          "running train accuracy",
          PALETTE[1],
          steps.map((s) => [s.globalStep, s.trainAccuracy ?? NaN]),
        ),
      ],
    },
    {
      title: "Loss per epoch",
      xLabel: "epoch",
      yLabel: "loss",
      x: "epoch",
      series: [
        line("train loss", PALETTE[0], epochs.map((e) => [e.epoch, e.trainLoss])),
        line("validation loss", PALETTE[3], epochs.map((e) => [e.epoch, e.validationLoss])),
      ],
    },
    {
      title: "Accuracy per epoch (%)",
      xLabel: "epoch",
      yLabel: "accuracy %",
      x: "epoch",
      series: [
        line("train accuracy", PALETTE[1], epochs.map((e) => [e.epoch, e.trainAccuracy ?? NaN])),
        line("test accuracy", PALETTE[2], epochs.map((e) => [e.epoch, e.testAccuracy])),
      ],
    },
    {
      title: "Learning rate",
      xLabel: "step",
      yLabel: "learning rate",
      x: "step",
      series: [line("learning rate", PALETTE[4], steps.map((s) => [s.globalStep, s.lr]))],
    },
  ];
}

/**
 * The run's charts in one SVG, two per row: training loss and accuracy per step, loss and
 * accuracy per epoch, and the learning rate. It scales to its container's width.
 *
 * @example
 * ```ts
 * import { curvesSvg } from "@hajime/nn";
 * const svg = curvesSvg({ steps: [], epochs: [] });
 * console.log(svg.length > 0); // true
 * ```
 */
export function curvesSvg(metrics: Pick<RunMetrics, "steps" | "epochs">): string {
  const charts = runCharts(metrics);
  const rows = Math.ceil(charts.length / 2);
  const body = charts.map((chart, i) =>
    `<g transform="translate(${(i % 2) * CHART_WIDTH},${Math.floor(i / 2) * CHART_HEIGHT})">${
      chartBody(chart)
    }</g>`
  ).join("");
  return svg(2 * CHART_WIDTH, rows * CHART_HEIGHT, body, "Training curves") + "\n";
}

/**
 * The confusion matrix as a heat map, rows = true class, columns = predicted class, each axis
 * labelled with the class names. It scales to its container's width.
 *
 * @example
 * ```ts
 * import { confusionSvg } from "@hajime/nn";
 * const svg = confusionSvg(["cat", "dog"], [[9, 1], [2, 8]]);
 * console.log(svg.includes("predicted class")); // true
 * ```
 */
export function confusionSvg(classes: readonly string[], confusion: readonly number[][]): string {
  const n = confusion.length;
  const cell = 40;
  const longest = Math.max(4, ...classes.map((name) => name.length)) * CHAR_WIDTH;
  const left = 34 + longest + 8;
  // Column names are rotated by 60°: their height is about sin 60° of their length.
  const top = 46 + longest * 0.87 + 8;
  const width = left + Math.max(n, 1) * cell + 16;
  const height = top + Math.max(n, 1) * cell + 16;
  const name = (i: number) => escapeXml(classes[i] ?? String(i));
  const parts = [
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${
      width / 2
    }" y="18" text-anchor="middle" font-weight="bold" font-size="13">Confusion matrix</text>`,
    `<text x="${left + (n * cell) / 2}" y="38" text-anchor="middle">predicted class</text>`,
    `<text transform="translate(16,${
      top + (n * cell) / 2
    }) rotate(-90)" text-anchor="middle">true class</text>`,
  ];
  if (n === 0) {
    parts.push(
      `<text x="${left + cell / 2}" y="${
        top + cell / 2
      }" text-anchor="middle" fill="#888">after the first evaluation</text>`,
    );
  }
  confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((count, j) => {
      const share = count / total;
      const shade = Math.round(255 * (1 - share));
      const [x, y] = [left + j * cell, top + i * cell];
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#fff"/>`,
        `<text x="${x + cell / 2}" y="${
          y + cell / 2 + 4
        }" text-anchor="middle" font-size="10" fill="${
          share > 0.5 ? "white" : "black"
        }">${count}</text>`,
      );
    });
  });
  for (let i = 0; i < n; i++) {
    parts.push(
      `<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${
        name(i)
      }</text>`,
      `<text transform="translate(${left + i * cell + cell / 2 + 3},${top - 6}) rotate(-60)">${
        name(i)
      }</text>`,
    );
  }
  return svg(Math.ceil(width), Math.ceil(height), parts.join(""), "Confusion matrix") + "\n";
}

const STYLE = `body{font-family:sans-serif;margin:1.5em;max-width:1600px;color:#222}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,340px),1fr));gap:12px}
svg{display:block;width:100%;height:auto}
.confusion{max-width:640px}
.wide{overflow-x:auto}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f4f4f4}
td.name{text-align:left}
pre{background:#f8f8f8;padding:1em;white-space:pre-wrap;overflow-wrap:anywhere}
.status{padding:6px 10px;border-radius:4px;background:#eef6ee}
.status.live{background:#fff4d6}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}`;

function page(title: string, refreshSeconds: number | null, body: string): string {
  const refresh = refreshSeconds === null
    ? ""
    : `<meta http-equiv="refresh" content="${refreshSeconds}">\n`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refresh}<title>${escapeXml(title)}</title>
<style>${STYLE}</style>
</head><body>
${body}
</body></html>
`;
}

/**
 * A self-contained HTML page with the charts, the tables and the confusion matrix. With
 * `options.live` it says where training is and reloads itself, so it can be left open in a
 * browser while the run writes it again and again.
 *
 * @example
 * ```ts
 * import { reportHtml } from "@hajime/nn";
 * const html = reportHtml({
 *   model: "resnet", parameters: 1965066, adapter: "llvmpipe", flags: {}, seed: 0,
 *   steps: [], epochs: [], classes: [], perClassAccuracy: [], confusion: [],
 *   testAccuracy: 0, validationLoss: 0, wallSeconds: 0,
 * }, { live: { progress: "epoch 1 of 4, step 100 of 1563" } });
 * console.log(html.includes("http-equiv=\"refresh\"")); // true
 * ```
 */
export function reportHtml(metrics: RunMetrics, options: ReportOptions = {}): string {
  const { live } = options;
  const refresh = live ? live.refreshSeconds ?? 10 : null;
  const epochRows = metrics.epochs.map((e) =>
    `<tr><td>${e.epoch}</td><td>${fixed(e.trainLoss, 4)}</td><td>${
      fixed(e.trainAccuracy, 2)
    }</td><td>${fixed(e.testAccuracy, 2)}</td><td>${fixed(e.validationLoss, 4)}</td><td>${
      typeof e.lr === "number" ? e.lr.toExponential(3) : "–"
    }</td><td>${fixed(e.imagesPerSecond, 1)}</td><td>${fixed(e.seconds, 1)}</td></tr>`
  ).join("\n");
  const classRows = metrics.classes.map((name, i) =>
    `<tr><td>${escapeXml(name)}</td><td>${fixed(metrics.perClassAccuracy[i], 2)}</td></tr>`
  ).join("\n");
  const done = metrics.epochs.length;
  const accuracy = `${fixed(metrics.testAccuracy, 2)} % test accuracy`;
  const heading = !live
    ? accuracy
    : done > 0
    ? `training, ${accuracy} after epoch ${done}`
    : "training";
  const status = live
    ? `<p class="status live">Training: ${escapeXml(live.progress)} · written ${
      new Date().toISOString().slice(0, 19).replace("T", " ")
    } UTC · this page reloads every ${refresh} s</p>`
    : `<p class="status">Finished in ${fixed(metrics.wallSeconds, 0)} s</p>`;
  const charts = runCharts(metrics).map(chartSvg).join("\n");
  const body = `<h1>${escapeXml(metrics.model)}: ${heading}</h1>
${status}
<p>${metrics.parameters.toLocaleString("en-US")} parameters · adapter ${
    escapeXml(metrics.adapter)
  } · seed ${metrics.seed} · validation loss ${fixed(metrics.validationLoss, 4)} · ${
    fixed(metrics.wallSeconds, 0)
  } s</p>
<div class="charts">
${charts}
</div>
<h2>Epochs</h2>
<div class="wide"><table><tr><th>epoch</th><th>train loss</th><th>train accuracy %</th><th>test accuracy %</th><th>validation loss</th><th>lr</th><th>images/s</th><th>seconds</th></tr>
${epochRows}
</table></div>
<h2>Per-class accuracy</h2>
<table><tr><th>class</th><th>accuracy %</th></tr>
${classRows}
</table>
<div class="confusion">${confusionSvg(metrics.classes, metrics.confusion)}</div>
<h2>Flags</h2><pre>${escapeXml(JSON.stringify(metrics.flags, null, 2))}</pre>`;
  return page(`hajime: ${metrics.model}`, refresh, body);
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temp, text);
  await Deno.rename(temp, path);
}

/**
 * Writes `metrics.json`, `curves.svg`, `confusion.svg` and `report.html` into `dir`, each file
 * replaced whole (a reader never sees half a file). Call it with `options.live` while training
 * and without at the end.
 *
 * @example
 * ```ts
 * import { type RunMetrics, writeReport } from "@hajime/nn";
 * const metrics: RunMetrics = JSON.parse(await Deno.readTextFile("runs/example/metrics.json"));
 * await writeReport("runs/example", metrics, { live: { progress: "epoch 1 of 4" } });
 * ```
 */
export async function writeReport(
  dir: string,
  metrics: RunMetrics,
  options: ReportOptions = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await writeAtomic(`${dir}/metrics.json`, JSON.stringify(metrics, null, 2) + "\n");
  await writeAtomic(`${dir}/curves.svg`, curvesSvg(metrics));
  await writeAtomic(`${dir}/confusion.svg`, confusionSvg(metrics.classes, metrics.confusion));
  await writeAtomic(`${dir}/report.html`, reportHtml(metrics, options));
}

/** The recipe a run was trained with, from its flags: the fields that make runs differ. */
function recipe(flags: Record<string, unknown>): string {
  const parts: string[] = [];
  const f = (key: string) => flags[key];
  if (f("recipe") !== undefined) parts.push(`${f("recipe")}:`);
  if (f("optimizer") !== undefined) {
    const momentum = typeof f("momentum") === "number" && (f("momentum") as number) > 0
      ? ` momentum ${f("momentum")}${f("nesterov") ? " Nesterov" : ""}`
      : "";
    parts.push(`${f("optimizer")} lr ${f("lr")}${momentum}`);
  }
  if (typeof f("weightDecay") === "number" && (f("weightDecay") as number) > 0) {
    parts.push(`wd ${f("weightDecay")}`);
  }
  if (f("schedule") !== undefined && f("schedule") !== "none") parts.push(`${f("schedule")}`);
  if (f("batchSize") !== undefined) parts.push(`batch ${f("batchSize")}`);
  if (f("epochs") !== undefined) parts.push(`${f("epochs")} epochs`);
  if (f("augment") !== undefined && f("augment") !== "none") parts.push(`${f("augment")}`);
  if (f("normalize")) parts.push("normalized");
  for (const key of ["maxSteps", "trainLimit", "testLimit"]) {
    if (typeof f(key) === "number") parts.push(`${key} ${f(key)}`);
  }
  return parts.join(" ");
}

/**
 * A page comparing runs: their test accuracy, validation loss and training loss overlaid (one
 * colour per run), and one table row per run with its recipe and results, linking its report.
 *
 * @example
 * ```ts
 * import { runsIndexHtml } from "@hajime/nn";
 * const html = runsIndexHtml([]);
 * console.log(html.includes("Runs (0)")); // true
 * ```
 */
export function runsIndexHtml(runs: readonly RunEntry[]): string {
  const color = (i: number) => PALETTE[i % PALETTE.length];
  const overlay = (pick: (m: RunMetrics) => [number, number][]) =>
    runs.map((run, i) => ({ label: run.name, color: color(i), points: pick(run.metrics) }));
  const charts: Chart[] = [
    {
      title: "Test accuracy per epoch (%)",
      xLabel: "epoch",
      yLabel: "accuracy %",
      x: "epoch",
      series: overlay((m) => m.epochs.map((e) => [e.epoch, e.testAccuracy])),
    },
    {
      title: "Validation loss per epoch",
      xLabel: "epoch",
      yLabel: "loss",
      x: "epoch",
      series: overlay((m) => m.epochs.map((e) => [e.epoch, e.validationLoss])),
    },
    {
      title: "Training loss per step",
      xLabel: "step",
      yLabel: "running loss",
      x: "step",
      series: overlay((m) => m.steps.map((s) => [s.globalStep, s.loss])),
    },
  ];
  const rows = runs.map(({ name, metrics: m }, i) => {
    const link = `<a href="${escapeXml(encodeURI(name))}/report.html">${escapeXml(name)}</a>`;
    return `<tr><td class="name"><span class="swatch" style="background:${
      color(i)
    }"></span>${link}</td><td class="name">${escapeXml(m.model)}</td><td class="name">${
      escapeXml(recipe(m.flags ?? {}))
    }</td><td>${m.epochs.length}</td><td>${fixed(m.testAccuracy, 2)}</td><td>${
      fixed(m.validationLoss, 4)
    }</td><td>${fixed(m.wallSeconds, 0)}</td></tr>`;
  }).join("\n");
  const body = `<h1>Runs (${runs.length})</h1>
<div class="charts">
${charts.map(chartSvg).join("\n")}
</div>
<div class="wide"><table><tr><th>run</th><th>model</th><th>recipe</th><th>epochs</th><th>test accuracy %</th><th>validation loss</th><th>seconds</th></tr>
${rows}
</table></div>`;
  return page("hajime: runs", null, body);
}

/**
 * Reads every `<dir>/<run>/metrics.json` (folders without one, or with one that is not a run's,
 * are left out) and writes `<dir>/index.html` comparing them; returns the runs, by name.
 *
 * @example
 * ```ts
 * import { writeRunsIndex } from "@hajime/nn";
 * const runs = await writeRunsIndex("runs");
 * console.log(`runs/index.html compares ${runs.length} runs`);
 * ```
 */
export async function writeRunsIndex(dir: string): Promise<RunEntry[]> {
  const runs: RunEntry[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory) continue;
    let metrics: RunMetrics;
    try {
      metrics = JSON.parse(await Deno.readTextFile(join(dir, entry.name, "metrics.json")));
    } catch {
      continue;
    }
    if (Array.isArray(metrics?.epochs) && Array.isArray(metrics.steps)) {
      runs.push({ name: entry.name, metrics });
    }
  }
  runs.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  await writeAtomic(join(dir, "index.html"), runsIndexHtml(runs));
  return runs;
}
