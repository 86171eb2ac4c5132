/**
 * A small terminal progress bar for downloads (bytes) and decoding (items): done/total, rate and
 * ETA. On a terminal one line is redrawn in place; elsewhere (CI logs, files) plain lines are
 * printed at every tenth of the way, so logs stay short.
 *
 * @module
 */

/**
 * Where a progress bar writes.
 *
 * @example
 * ```ts
 * import { Progress, type ProgressOutput } from "./progress.ts";
 * const lines: string[] = [];
 * const output: ProgressOutput = { write: (t) => lines.push(t), isTerminal: false };
 * new Progress({ label: "quiet", total: 10, output }).finish();
 * ```
 */
export interface ProgressOutput {
  /** Writes text as is (no newline added). */
  write(text: string): void;
  /** True when `\r` redraws the line (a terminal). */
  readonly isTerminal: boolean;
  /** Columns available on a terminal; 80 when unknown. */
  readonly columns?: number;
}

/**
 * Options of a {@linkcode Progress}.
 *
 * @example
 * ```ts
 * import { Progress, type ProgressOptions } from "./progress.ts";
 * const options: ProgressOptions = { label: "download", total: 1e6, unit: "bytes" };
 * new Progress(options).finish();
 * ```
 */
export interface ProgressOptions {
  /** Shown before the bar, e.g. `"decoding train"`. */
  label: string;
  /** The amount at completion; unknown (0) shows only the amount done and the rate. */
  total?: number;
  /** What is counted: bytes are shown in kB/MB/GB, items as plain counts. */
  unit?: "bytes" | "items";
  /** Defaults to standard error (standard output stays for results). */
  output?: ProgressOutput;
  /** Clock in milliseconds (tests pass a fake one). */
  now?: () => number;
}

const encoder = new TextEncoder();

/**
 * Standard error as a progress output (a terminal when stderr is one).
 *
 * @example
 * ```ts
 * import { Progress, stderrOutput } from "./progress.ts";
 * const bar = new Progress({ label: "work", total: 3, output: stderrOutput() });
 * bar.add(3);
 * bar.finish();
 * ```
 */
export function stderrOutput(): ProgressOutput {
  let columns = 80;
  const isTerminal = Deno.stderr.isTerminal();
  if (isTerminal) {
    try {
      columns = Deno.consoleSize().columns;
    } catch {
      // Not a real console after all: keep 80 columns.
    }
  }
  return { write: (text) => Deno.stderr.writeSync(encoder.encode(text)), isTerminal, columns };
}

/**
 * `1.5 MB`, `820 kB`, `12 B` (SI units, as download sizes are quoted).
 *
 * @example
 * ```ts
 * import { formatBytes } from "./progress.ts";
 * formatBytes(170_052_171); // "170.1 MB"
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes / 1000;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[i]}`;
}

/**
 * `0:07`, `12:34`, `1:02:03`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * formatDuration(754); // "12:34"
 * ```
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * A progress bar: call `add` (or `set`) as work is done and `finish` at the end.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const bar = new Progress({ label: "decoding", total: 100, unit: "items" });
 * for (let i = 0; i < 100; i++) bar.add(1);
 * bar.finish();
 * ```
 */
export class Progress {
  /** The amount done so far. */
  done: number = 0;
  readonly #label: string;
  readonly #total: number;
  readonly #unit: "bytes" | "items";
  readonly #output: ProgressOutput;
  readonly #now: () => number;
  readonly #start: number;
  #lastDraw = -Infinity;
  #lastTenth = 0;
  #finished = false;

  /** Starts the clock; nothing is drawn until the first update. */
  constructor(options: ProgressOptions) {
    this.#label = options.label;
    this.#total = options.total ?? 0;
    this.#unit = options.unit ?? "items";
    this.#output = options.output ?? stderrOutput();
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Adds `amount` to the amount done and redraws if it is time to. */
  add(amount: number): void {
    this.set(this.done + amount);
  }

  /** Sets the amount done and redraws if it is time to. */
  set(done: number): void {
    this.done = done;
    const now = this.#now();
    if (this.#output.isTerminal) {
      // Redraw at most 10 times a second: drawing is cheap, but not per chunk.
      if (now - this.#lastDraw < 100) return;
      this.#lastDraw = now;
      this.#output.write(`\r${this.#line(now, true)}\x1b[K`);
      return;
    }
    if (this.#total <= 0) return;
    const tenth = Math.floor((10 * Math.min(done, this.#total)) / this.#total);
    if (tenth > this.#lastTenth && tenth < 10) {
      this.#lastTenth = tenth;
      this.#output.write(`${this.#line(now, false)}\n`);
    }
  }

  /** Draws the final state and ends the line; later calls do nothing. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    const now = this.#now();
    const seconds = (now - this.#start) / 1000;
    const line = `${this.#label}: ${this.#amount(this.done)} in ${seconds.toFixed(1)} s ` +
      `(${this.#rate(now)})`;
    this.#output.write(this.#output.isTerminal ? `\r${line}\x1b[K\n` : `${line}\n`);
  }

  #amount(value: number): string {
    return this.#unit === "bytes" ? formatBytes(value) : `${value}`;
  }

  #rate(now: number): string {
    const seconds = Math.max(1e-3, (now - this.#start) / 1000);
    const rate = this.done / seconds;
    return this.#unit === "bytes" ? `${formatBytes(rate)}/s` : `${Math.round(rate)}/s`;
  }

  #line(now: number, bar: boolean): string {
    const total = this.#total;
    const rate = this.#rate(now);
    if (total <= 0) return `${this.#label} ${this.#amount(this.done)} ${rate}`;
    const fraction = Math.min(1, this.done / total);
    const elapsed = (now - this.#start) / 1000;
    const eta = fraction > 0 ? formatDuration(elapsed * (1 - fraction) / fraction) : "?";
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    const stats = `${percent} ${this.#amount(this.done)}/${this.#amount(total)} ${rate} ETA ${eta}`;
    if (!bar) return `${this.#label}: ${stats}`;
    const width = Math.max(
      10,
      Math.min(30, (this.#output.columns ?? 80) - this.#label.length - stats.length - 6),
    );
    const filled = Math.round(fraction * width);
    return `${this.#label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${stats}`;
  }
}
