/**
 * Losses as objects, PyTorch's `nn.CrossEntropyLoss()` and `nn.NLLLoss()` (mean over the
 * batch): `forward(scores, labels)` returns the loss `[1]`, recorded on the tape, so
 * `loss.backward()` derives every gradient and `await loss.item()` reads it. Each is one op
 * (src/ops/loss.ts); the object holds no state and may be called any number of times.
 *
 * @module
 */

import { crossEntropy, nllLoss } from "../ops/loss.ts";
import type { Tensor } from "../tensor.ts";

/**
 * What the losses share: `forward(scores, labels)` and printing. Subclasses supply the op.
 *
 * @example
 * ```ts
 * import { CrossEntropyLoss, type Loss } from "@hajime/nn";
 * const lossFn: Loss = new CrossEntropyLoss();
 * console.log(lossFn.toString()); // CrossEntropyLoss()
 * ```
 */
export abstract class Loss {
  /**
   * scores: [N, K], labels: i32 [N] with values in [0, K) → the mean loss `[1]`, made by an op
   * (recorded when the scores require a gradient). Labels uploaded from the CPU outside [0, K)
   * are an error naming the value.
   */
  abstract forward(scores: Tensor, labels: Tensor<"i32">): Tensor;

  /** `CrossEntropyLoss()`, as PyTorch prints it. */
  toString(): string {
    return `${this.constructor.name}()`;
  }
}

/**
 * `nn.CrossEntropyLoss()`: mean over the batch of −log softmax(logits)[label]. Given
 * log-probabilities (the article's log_softmax heads) it behaves as PyTorch does: log_softmax is
 * applied again, which leaves log-probabilities unchanged.
 *
 * @example
 * ```ts
 * import { CrossEntropyLoss, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const lossFn = new CrossEntropyLoss();
 * const logits = Tensor.zeros([2, 10], { requiresGrad: true });
 * const loss = lossFn.forward(logits, Tensor.from([3, 7], [2], { dtype: "i32" }));
 * loss.backward(); // logits.grad = (softmax − onehot) / N
 * console.log(await loss.item()); // ln 10
 * ```
 */
export class CrossEntropyLoss extends Loss {
  /** logits: [N, K], labels: i32 [N] → `[1]`, the `crossEntropy` op. */
  forward(logits: Tensor, labels: Tensor<"i32">): Tensor {
    return crossEntropy(logits, labels);
  }
}

/**
 * `nn.NLLLoss()`: mean over the batch of −logProbs[label], for log-probability inputs.
 *
 * @example
 * ```ts
 * import { initGpu, NLLLoss, Tensor } from "@hajime/nn";
 * await initGpu();
 * const lossFn = new NLLLoss();
 * const loss = lossFn.forward(Tensor.full([2, 10], -2), Tensor.from([0, 1], [2], { dtype: "i32" }));
 * console.log(await loss.item()); // 2
 * ```
 */
export class NLLLoss extends Loss {
  /** logProbs: [N, K], labels: i32 [N] → `[1]`, the `nllLoss` op. */
  forward(logProbs: Tensor, labels: Tensor<"i32">): Tensor {
    return nllLoss(logProbs, labels);
  }
}
