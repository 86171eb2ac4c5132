/**
 * Classification metrics on the CPU (accuracy, per-class accuracy, the confusion matrix) and the
 * number formatting of the article's logs (Python's `{:.4f}` and `%d`).
 *
 * @module
 */

/**
 * The index of the largest value in each row of a row-major `[rows, classes]` array; the first
 * one wins a tie, as `torch.max` does on the CPU.
 *
 * @example
 * ```ts
 * import { argmaxRows } from "@hajime/nn";
 * console.log(argmaxRows(new Float32Array([0.1, 0.9, 0.5, 0.2]), 2)); // Int32Array [1, 0]
 * ```
 */
export function argmaxRows(values: ArrayLike<number>, classes: number): Int32Array {
  if (!Number.isInteger(classes) || classes < 1 || values.length % classes !== 0) {
    throw new RangeError(
      `argmaxRows: ${values.length} values do not split into rows of ${classes} classes`,
    );
  }
  const rows = values.length / classes;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = values[r * classes];
    for (let k = 1; k < classes; k++) {
      const v = values[r * classes + k];
      // NaN never wins, so a row of NaN predicts class 0.
      if (v > bestValue || (Number.isNaN(bestValue) && !Number.isNaN(v))) {
        best = k;
        bestValue = v;
      }
    }
    out[r] = best;
  }
  return out;
}

function checkPairs(
  owner: string,
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
): void {
  if (predictions.length !== labels.length) {
    throw new RangeError(
      `${owner}: predictions has ${predictions.length} entries, labels has ${labels.length}`,
    );
  }
}

/**
 * The fraction of predictions equal to their labels (0 when there are none).
 *
 * @example
 * ```ts
 * import { accuracy } from "@hajime/nn";
 * console.log(accuracy([1, 2, 3, 0], [1, 2, 0, 0])); // 0.75
 * ```
 */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPairs("accuracy", predictions, labels);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return labels.length === 0 ? 0 : correct / labels.length;
}

/**
 * The confusion matrix: `matrix[label][prediction]` counts the images of class `label` predicted
 * as `prediction` (rows are true classes, as in scikit-learn).
 *
 * @example
 * ```ts
 * import { confusionMatrix } from "@hajime/nn";
 * console.log(confusionMatrix([0, 1, 1], [0, 0, 1], 2)); // [[1, 1], [0, 1]]
 * ```
 */
export function confusionMatrix(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
): number[][] {
  checkPairs("confusionMatrix", predictions, labels);
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`confusionMatrix: classes must be an integer ≥ 1, got ${classes}`);
  }
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    const prediction = predictions[i];
    if (!(label >= 0 && label < classes) || !(prediction >= 0 && prediction < classes)) {
      throw new RangeError(
        `confusionMatrix: entry ${i} has label ${label}, prediction ${prediction}; ` +
          `classes are 0…${classes - 1}`,
      );
    }
    matrix[label][prediction]++;
  }
  return matrix;
}

/**
 * Accuracy within each true class, from a confusion matrix: the diagonal over the row sums (NaN
 * for a class with no images).
 *
 * @example
 * ```ts
 * import { perClassAccuracy } from "@hajime/nn";
 * console.log(perClassAccuracy([[3, 1], [0, 2]])); // [0.75, 1]
 * ```
 */
export function perClassAccuracy(confusion: readonly (readonly number[])[]): number[] {
  return confusion.map((row, k) => {
    const total = row.reduce((sum, n) => sum + n, 0);
    return total === 0 ? NaN : row[k] / total;
  });
}

/**
 * Formats `value` with `digits` decimals exactly as Python's `"{:.Nf}".format(value)`: rounding
 * the exact binary value, ties to even, and `nan`/`inf` spelled as Python does.
 *
 * @example
 * ```ts
 * import { formatFixed } from "./metrics.ts";
 * console.log(formatFixed(2.32219, 4), formatFixed(0.03125, 4)); // "2.3222" "0.0312"
 * ```
 */
export function formatFixed(value: number, digits: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (!Number.isInteger(digits) || digits < 0 || digits > 100) {
    throw new RangeError(`formatFixed: digits must be an integer in [0, 100], got ${digits}`);
  }
  const sign = value < 0 || Object.is(value, -0) ? "-" : "";
  const magnitude = Math.abs(value);
  // toFixed rounds an exact tie away from zero; Python rounds it to even.
  const tie = exactTie(magnitude, digits);
  const rounded = tie === null ? magnitude.toFixed(digits) : formatScaled(tie, digits);
  return sign + rounded;
}

/**
 * When `x·10^digits` lies exactly halfway between two integers, the even one; else null.
 * Exact: x = m·2^e is split from its bits and the test done in BigInt.
 */
function exactTie(x: number, digits: number): bigint | null {
  const bits = new DataView(new Float64Array([x]).buffer);
  const high = bits.getUint32(4, true);
  const biased = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(bits.getUint32(0, true));
  if (biased !== 0) mantissa |= 1n << 52n;
  const exponent = (biased === 0 ? 1 : biased) - 1075;
  if (exponent >= 0 || mantissa === 0n) return null;
  const twice = mantissa * 10n ** BigInt(digits) * 2n;
  const denominator = 1n << BigInt(-exponent);
  if (twice % denominator !== 0n) return null;
  const doubled = twice / denominator;
  if (doubled % 2n === 0n) return null;
  const below = (doubled - 1n) / 2n;
  return below % 2n === 0n ? below : below + 1n;
}

function formatScaled(scaled: bigint, digits: number): string {
  const text = scaled.toString().padStart(digits + 1, "0");
  if (digits === 0) return text;
  return `${text.slice(0, text.length - digits)}.${text.slice(text.length - digits)}`;
}
