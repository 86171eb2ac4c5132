/**
 * A training run's report: `metrics.json`, `curves.svg` (loss and accuracy against steps and
 * epochs), `confusion.svg`, and a self-contained `report.html` with both pictures and the tables.
 *
 * @module
 */

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
  /** Learning rate at that step. */
  lr: number;
}

/** What is known at the end of each epoch. */
export interface EpochRecord {
  /** 1-based epoch. */
  epoch: number;
  /** Mean training loss over the epoch. */
  trainLoss: number;
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
  /** Final per-class accuracy in percent. */
  perClassAccuracy: number[];
  /** Final confusion matrix, rows = true class, columns = predicted class. */
  confusion: number[][];
  /** Final test accuracy in percent. */
  testAccuracy: number;
  /** Final validation loss. */
  validationLoss: number;
  /** Wall-clock seconds of the whole run. */
  wallSeconds: number;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function niceTicks(min: number, max: number, count: number): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

interface Series {
  label: string;
  color: string;
  points: [number, number][];
}

/** One line chart as an SVG `<g>` at (x0, y0) of size w×h. */
function chart(
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  xLabel: string,
  series: Series[],
): string {
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xMin = Math.min(...xs, 0);
  const xMax = Math.max(...xs, 1);
  let yMin = Math.min(...ys);
  let yMax = Math.max(...ys);
  if (!Number.isFinite(yMin)) [yMin, yMax] = [0, 1];
  if (yMax === yMin) [yMin, yMax] = [yMin - 1, yMax + 1];
  const px = (x: number) => x0 + 50 + ((x - xMin) / (xMax - xMin)) * (w - 70);
  const py = (y: number) => y0 + h - 40 - ((y - yMin) / (yMax - yMin)) * (h - 70);
  const parts = [
    `<text x="${x0 + w / 2}" y="${y0 + 16}" text-anchor="middle" font-weight="bold">${
      escapeXml(title)
    }</text>`,
    `<line x1="${px(xMin)}" y1="${py(yMin)}" x2="${px(xMax)}" y2="${py(yMin)}" stroke="#333"/>`,
    `<line x1="${px(xMin)}" y1="${py(yMin)}" x2="${px(xMin)}" y2="${py(yMax)}" stroke="#333"/>`,
    `<text x="${x0 + w / 2}" y="${y0 + h - 6}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
  ];
  for (const t of niceTicks(yMin, yMax, 5)) {
    parts.push(
      `<text x="${px(xMin) - 6}" y="${py(t) + 4}" text-anchor="end" font-size="10">${t}</text>`,
      `<line x1="${px(xMin)}" y1="${py(t)}" x2="${px(xMax)}" y2="${
        py(t)
      }" stroke="#ddd" stroke-width="0.5"/>`,
    );
  }
  for (const t of niceTicks(xMin, xMax, 6)) {
    parts.push(
      `<text x="${px(t)}" y="${py(yMin) + 14}" text-anchor="middle" font-size="10">${t}</text>`,
    );
  }
  series.forEach((s, i) => {
    if (s.points.length > 0) {
      const d = s.points.map(([x, y], j) =>
        `${j ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`
      )
        .join(" ");
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
      for (const [x, y] of s.points.length <= 50 ? s.points : []) {
        parts.push(
          `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`,
        );
      }
    }
    parts.push(
      `<text x="${x0 + w - 10}" y="${
        y0 + 34 + 14 * i
      }" text-anchor="end" fill="${s.color}" font-size="11">${escapeXml(s.label)}</text>`,
    );
  });
  return `<g>${parts.join("")}</g>`;
}

/**
 * The loss curve against global steps and the accuracy and validation loss against epochs.
 *
 * @example
 * ```ts
 * import { curvesSvg } from "@hajime/nn";
 * const svg = curvesSvg({ steps: [], epochs: [] });
 * ```
 */
export function curvesSvg(metrics: Pick<RunMetrics, "steps" | "epochs">): string {
  const loss = chart(0, 0, 480, 320, "Training loss", "step", [
    {
      label: "running loss",
      color: "#1f77b4",
      points: metrics.steps.map((s) => [s.globalStep, s.loss]),
    },
  ]);
  const accuracy = chart(480, 0, 480, 320, "Test accuracy (%)", "epoch", [
    {
      label: "test accuracy",
      color: "#2ca02c",
      points: metrics.epochs.map((e) => [e.epoch, e.testAccuracy]),
    },
  ]);
  const losses = chart(960, 0, 480, 320, "Loss per epoch", "epoch", [
    {
      label: "train loss",
      color: "#1f77b4",
      points: metrics.epochs.map((e) => [e.epoch, e.trainLoss]),
    },
    {
      label: "validation loss",
      color: "#d62728",
      points: metrics.epochs.map((e) => [e.epoch, e.validationLoss]),
    },
  ]);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="1440" height="320" viewBox="0 0 1440 320" font-family="sans-serif" font-size="12"><rect width="1440" height="320" fill="white"/>${loss}${accuracy}${losses}</svg>\n`;
}

/**
 * The confusion matrix as a heat map, rows = true class, columns = predicted class.
 *
 * @example
 * ```ts
 * import { confusionSvg } from "@hajime/nn";
 * const svg = confusionSvg(["cat", "dog"], [[9, 1], [2, 8]]);
 * ```
 */
export function confusionSvg(classes: readonly string[], confusion: readonly number[][]): string {
  const n = classes.length;
  const cell = 44;
  const left = 100;
  const top = 110;
  const size = left + n * cell + 20;
  const parts: string[] = [];
  confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((count, j) => {
      const share = count / total;
      const shade = Math.round(255 * (1 - share));
      parts.push(
        `<rect x="${left + j * cell}" y="${
          top + i * cell
        }" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#fff"/>`,
        `<text x="${left + j * cell + cell / 2}" y="${
          top + i * cell + cell / 2 + 4
        }" text-anchor="middle" font-size="10" fill="${
          share > 0.5 ? "white" : "black"
        }">${count}</text>`,
      );
    });
  });
  classes.forEach((name, i) => {
    parts.push(
      `<text x="${left - 6}" y="${
        top + i * cell + cell / 2 + 4
      }" text-anchor="end" font-size="11">${escapeXml(name)}</text>`,
      `<text transform="translate(${left + i * cell + cell / 2},${
        top - 6
      }) rotate(-60)" font-size="11">${escapeXml(name)}</text>`,
    );
  });
  parts.push(
    `<text x="${
      left + (n * cell) / 2
    }" y="16" text-anchor="middle" font-weight="bold">Confusion matrix (rows: true class, columns: predicted)</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${
    top + n * cell + 20
  }" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>${
    parts.join("")
  }</svg>\n`;
}

/**
 * A self-contained HTML page with the curves, the confusion matrix and the tables.
 *
 * @example
 * ```ts
 * import { reportHtml } from "@hajime/nn";
 * const html = reportHtml({
 *   model: "resnet", parameters: 1965066, adapter: "llvmpipe", flags: {}, seed: 0,
 *   steps: [], epochs: [], classes: [], perClassAccuracy: [], confusion: [],
 *   testAccuracy: 0, validationLoss: 0, wallSeconds: 0,
 * });
 * ```
 */
export function reportHtml(metrics: RunMetrics): string {
  const epochRows = metrics.epochs.map((e) =>
    `<tr><td>${e.epoch}</td><td>${e.trainLoss.toFixed(4)}</td><td>${
      e.testAccuracy.toFixed(2)
    }</td><td>${e.validationLoss.toFixed(4)}</td><td>${e.lr.toExponential(3)}</td><td>${
      e.imagesPerSecond.toFixed(1)
    }</td><td>${e.seconds.toFixed(1)}</td></tr>`
  ).join("\n");
  const classRows = metrics.classes.map((name, i) =>
    `<tr><td>${escapeXml(name)}</td><td>${(metrics.perClassAccuracy[i] ?? 0).toFixed(2)}</td></tr>`
  ).join("\n");
  const flags = escapeXml(JSON.stringify(metrics.flags, null, 2));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hajime: ${escapeXml(metrics.model)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1500px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f4f4f4}pre{background:#f8f8f8;padding:1em}</style>
</head><body>
<h1>${escapeXml(metrics.model)}: ${metrics.testAccuracy.toFixed(2)} % test accuracy</h1>
<p>${metrics.parameters.toLocaleString("en-US")} parameters · adapter ${
    escapeXml(metrics.adapter)
  } · seed ${metrics.seed} · validation loss ${metrics.validationLoss.toFixed(4)} · ${
    metrics.wallSeconds.toFixed(0)
  } s</p>
${curvesSvg(metrics)}
<h2>Epochs</h2>
<table><tr><th>epoch</th><th>train loss</th><th>test accuracy %</th><th>validation loss</th><th>lr</th><th>images/s</th><th>seconds</th></tr>
${epochRows}
</table>
<h2>Per-class accuracy</h2>
<table><tr><th>class</th><th>accuracy %</th></tr>
${classRows}
</table>
${confusionSvg(metrics.classes, metrics.confusion)}
<h2>Flags</h2><pre>${flags}</pre>
</body></html>
`;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temp, text);
  await Deno.rename(temp, path);
}

/**
 * Writes `metrics.json`, `curves.svg`, `confusion.svg` and `report.html` into `dir`.
 *
 * @example
 * ```ts ignore
 * import { writeReport } from "@hajime/nn";
 * await writeReport("runs/example", metrics);
 * ```
 */
export async function writeReport(dir: string, metrics: RunMetrics): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await writeAtomic(`${dir}/metrics.json`, JSON.stringify(metrics, null, 2) + "\n");
  await writeAtomic(`${dir}/curves.svg`, curvesSvg(metrics));
  await writeAtomic(`${dir}/confusion.svg`, confusionSvg(metrics.classes, metrics.confusion));
  await writeAtomic(`${dir}/report.html`, reportHtml(metrics));
}
