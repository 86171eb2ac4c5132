/**
 * Losses as objects: `CrossEntropyLoss` and `NLLLoss`, mean over the batch as in PyTorch.
 * `forward(scores, labels)` returns the loss `[1]` and, in the same pass, the gradient that
 * `backward()` returns; an optional running sum of the batch losses stays on the GPU, so a
 * training loop reads the loss back only when it logs.
 *
 * @module
 */

import { crossEntropy, nllLoss } from "../kernels/loss.ts";
import { checkShape, Tensor } from "../tensor.ts";

/**
 * Options of the losses.
 *
 * @example
 * ```ts
 * import { CrossEntropyLoss, type LossOptions } from "@hajime/nn";
 * const options: LossOptions = { sum: true };
 * const lossFn = new CrossEntropyLoss(options);
 * ```
 */
export interface LossOptions {
  /** Keep `lossSum` `[1]` on the GPU: every forward adds its loss to it (default false). */
  sum?: boolean;
}

/**
 * What the losses share: owned output tensors, the optional running sum, printing. Subclasses
 * supply the kernel.
 *
 * @example
 * ```ts
 * import { CrossEntropyLoss, type Loss } from "@hajime/nn";
 * const lossFn: Loss = new CrossEntropyLoss();
 * ```
 */
export abstract class Loss {
  /** Sum of the losses of every forward since the last `resetSum()`, or null without `sum`. */
  readonly lossSum: Tensor | null;
  #loss: Tensor | null = null;
  #grad: Tensor | null = null;
  #ready = false;

  /** Allocates `lossSum` when `options.sum`. */
  constructor(options: LossOptions) {
    this.lossSum = options.sum
      ? Tensor.zeros([1], { label: `${this.constructor.name}.lossSum` })
      : null;
  }

  /** Records the kernel: loss `[1]` (overwritten), grad `[N, K]` (overwritten), lossSum (+=). */
  protected abstract compute(
    scores: Tensor,
    labels: Tensor<"i32">,
    loss: Tensor,
    grad: Tensor,
    opts: { lossSum?: Tensor },
  ): void;

  /**
   * scores: [N, K], labels: i32 [N] with values in [0, K) → the mean loss `[1]` (owned, valid until
   * the next forward). Also computes the gradient `backward()` returns.
   */
  forward(scores: Tensor, labels: Tensor<"i32">): Tensor {
    const owner = `${this.constructor.name}.forward`;
    checkShape(owner, "scores", scores, [null, null]);
    checkShape(owner, "labels", labels, [scores.shape[0]], "i32");
    this.#loss ??= Tensor.empty([1], { label: `${this.constructor.name}.loss` });
    if (!this.#grad || this.#grad.shape.some((d, i) => d !== scores.shape[i])) {
      this.#grad?.dispose();
      this.#grad = Tensor.empty(scores.shape, { label: `${this.constructor.name}.dScores` });
    }
    this.compute(
      scores,
      labels,
      this.#loss,
      this.#grad,
      this.lossSum ? { lossSum: this.lossSum } : {},
    );
    this.#ready = true;
    return this.#loss;
  }

  /** The gradient of the last loss with respect to its scores, [N, K] (owned). */
  backward(): Tensor {
    if (!this.#ready) throw new Error(`${this.constructor.name}.backward: call forward first`);
    return this.#grad!;
  }

  /** Records a reset of `lossSum` to 0. */
  resetSum(): void {
    if (!this.lossSum) throw new Error(`${this.constructor.name}.resetSum: created without sum`);
    this.lossSum.fill(0);
  }

  /** Frees the owned tensors. */
  dispose(): void {
    this.#loss?.dispose();
    this.#grad?.dispose();
    this.lossSum?.dispose();
  }

  /** `CrossEntropyLoss()`, as PyTorch prints it. */
  toString(): string {
    return `${this.constructor.name}()`;
  }
}

/**
 * `nn.CrossEntropyLoss()`: mean over the batch of −log softmax(logits)[label]. Given log-probabilities
 * (the article's log_softmax heads) it behaves as PyTorch does: log_softmax is applied again,
 * which leaves log-probabilities unchanged.
 *
 * @example
 * ```ts
 * import { CrossEntropyLoss, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const lossFn = new CrossEntropyLoss({ sum: true });
 * const loss = lossFn.forward(Tensor.zeros([2, 10]), Tensor.from([3, 7], [2], { dtype: "i32" }));
 * console.log(await loss.read()); // [ln 10]
 * const dLogits = lossFn.backward(); // (softmax − onehot) / N
 * ```
 */
export class CrossEntropyLoss extends Loss {
  /** Options: `sum` keeps a running sum on the GPU. */
  constructor(options: LossOptions = {}) {
    super(options);
  }

  /** Records `crossEntropy` (log_softmax applied to the logits inside the kernel). */
  protected compute(
    logits: Tensor,
    labels: Tensor<"i32">,
    loss: Tensor,
    grad: Tensor,
    opts: { lossSum?: Tensor },
  ): void {
    crossEntropy(logits, labels, loss, grad, opts);
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
 * console.log(await loss.read()); // [2]
 * ```
 */
export class NLLLoss extends Loss {
  /** Options: `sum` keeps a running sum on the GPU. */
  constructor(options: LossOptions = {}) {
    super(options);
  }

  /** Records `nllLoss` on log-probabilities. */
  protected compute(
    logProbs: Tensor,
    labels: Tensor<"i32">,
    loss: Tensor,
    grad: Tensor,
    opts: { lossSum?: Tensor },
  ): void {
    nllLoss(logProbs, labels, loss, grad, opts);
  }
}
