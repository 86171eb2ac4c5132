/**
 * `BatchNorm1d`: per-feature batch normalisation of `[N, C]` or `[N, C, L]` batches, PyTorch's
 * `nn.BatchNorm1d`, sharing everything but its input shapes with `BatchNorm2d` (the kernels see
 * the batch as `[N, C, L, 1]`).
 *
 * @module
 */

import type { Tensor } from "../tensor.ts";
import { BatchNormBase } from "./batch_norm2d.ts";

/**
 * Batch normalisation over N (and L) for each feature, `nn.BatchNorm1d(numFeatures)`: training
 * mode normalises with the batch statistics and updates the running ones, eval mode uses the
 * running statistics. Options and state-dict names are `BatchNorm2d`'s.
 *
 * @example
 * ```ts
 * import { BatchNorm1d, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const bn = new BatchNorm1d(3);
 * const y = bn.forward(Tensor.from([1, 2, 3, 3, 6, 9], [2, 3])); // each column to −1, 1
 * const sequence = bn.forward(Tensor.zeros([4, 3, 10])); // [N, C, L] too
 * console.log(await y.read(), sequence.shape);
 * ```
 */
export class BatchNorm1d extends BatchNormBase {
  /** x: [N, C] or [N, C, L] with C = numFeatures. */
  protected checkInput(x: Tensor): void {
    const rank = x.shape.length;
    if ((rank !== 2 && rank !== 3) || x.shape[1] !== this.numFeatures) {
      throw new Error(
        `BatchNorm1d.forward: x has shape [${
          x.shape.join(", ")
        }], expected [N, ${this.numFeatures}]` +
          ` or [N, ${this.numFeatures}, L]`,
      );
    }
  }
}
