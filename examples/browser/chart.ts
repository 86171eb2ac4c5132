/// <reference lib="dom" />
/**
 * A self-contained live line chart on a canvas (no library, no network): the training loss on the
 * left axis and the test-sample accuracy (0–100 %) on the right, against the global step.
 *
 * @module
 */

/** A point of a series: x is the global step. */
interface Point {
  x: number;
  y: number;
}

const LOSS_COLOUR = "#d9480f";
const ACCURACY_COLOUR = "#1864ab";
const MARGIN = { left: 56, right: 56, top: 28, bottom: 36 };

/**
 * The loss and accuracy curves of one run, redrawn on every new point.
 *
 * @example
 * ```ts
 * import { TrainingChart } from "./chart.ts";
 * const chart = new TrainingChart(document.querySelector("canvas")!);
 * chart.addLoss(500, 2.3222);
 * chart.addAccuracy(500, 0.18);
 * ```
 */
export class TrainingChart {
  #canvas: HTMLCanvasElement;
  #loss: Point[] = [];
  #accuracy: Point[] = [];

  /** Draws on `canvas` (its width and height attributes give the size in pixels). */
  constructor(canvas: HTMLCanvasElement) {
    this.#canvas = canvas;
    this.draw();
  }

  /** Forgets both curves. */
  clear(): void {
    this.#loss = [];
    this.#accuracy = [];
    this.draw();
  }

  /** Adds a loss point. */
  addLoss(step: number, loss: number): void {
    this.#loss.push({ x: step, y: loss });
    this.draw();
  }

  /** Adds an accuracy point, `accuracy` in [0, 1]. */
  addAccuracy(step: number, accuracy: number): void {
    this.#accuracy.push({ x: step, y: 100 * accuracy });
    this.draw();
  }

  /** Redraws everything. */
  draw(): void {
    const g = this.#canvas.getContext("2d")!;
    const { width, height } = this.#canvas;
    const plot = {
      x: MARGIN.left,
      y: MARGIN.top,
      w: width - MARGIN.left - MARGIN.right,
      h: height - MARGIN.top - MARGIN.bottom,
    };
    g.fillStyle = "#fff";
    g.fillRect(0, 0, width, height);
    g.font = "12px sans-serif";
    const steps = [...this.#loss, ...this.#accuracy].map((p) => p.x);
    const xMax = Math.max(1, ...steps);
    const lossMax = niceCeiling(Math.max(0.1, ...this.#loss.map((p) => p.y)));
    const xOf = (x: number) => plot.x + plot.w * x / xMax;
    // Grid and axes: five bands, loss ticks left, accuracy ticks right, steps below.
    g.strokeStyle = "#dee2e6";
    g.lineWidth = 1;
    g.textBaseline = "middle";
    for (let i = 0; i <= 5; i++) {
      const y = plot.y + plot.h * (1 - i / 5);
      g.beginPath();
      g.moveTo(plot.x, y);
      g.lineTo(plot.x + plot.w, y);
      g.stroke();
      g.fillStyle = LOSS_COLOUR;
      g.textAlign = "right";
      g.fillText((lossMax * i / 5).toFixed(2), plot.x - 6, y);
      g.fillStyle = ACCURACY_COLOUR;
      g.textAlign = "left";
      g.fillText(`${20 * i} %`, plot.x + plot.w + 6, y);
    }
    g.fillStyle = "#495057";
    g.textAlign = "center";
    g.textBaseline = "top";
    for (let i = 0; i <= 4; i++) {
      const x = Math.round(xMax * i / 4);
      g.fillText(String(x), xOf(x), plot.y + plot.h + 6);
    }
    g.fillText("step", plot.x + plot.w / 2, plot.y + plot.h + 20);
    g.textAlign = "left";
    g.fillStyle = LOSS_COLOUR;
    g.fillText("● loss", plot.x, 8);
    g.fillStyle = ACCURACY_COLOUR;
    g.fillText("● test accuracy (sample)", plot.x + 70, 8);
    line(g, this.#loss, xOf, (y) => plot.y + plot.h * (1 - y / lossMax), LOSS_COLOUR);
    line(g, this.#accuracy, xOf, (y) => plot.y + plot.h * (1 - y / 100), ACCURACY_COLOUR);
  }
}

/** The least of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 times a power of ten that is ≥ `value`. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * power).find((v) => v >= value)!;
}

function line(
  g: CanvasRenderingContext2D,
  points: readonly Point[],
  xOf: (x: number) => number,
  yOf: (y: number) => number,
  colour: string,
): void {
  g.strokeStyle = colour;
  g.fillStyle = colour;
  g.lineWidth = 2;
  g.beginPath();
  points.forEach((p, i) => i === 0 ? g.moveTo(xOf(p.x), yOf(p.y)) : g.lineTo(xOf(p.x), yOf(p.y)));
  g.stroke();
  for (const p of points) g.fillRect(xOf(p.x) - 2, yOf(p.y) - 2, 4, 4);
}
