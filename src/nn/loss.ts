/**
 * Losses as objects, PyTorch's `nn.CrossEntropyLoss()` (with `label_smoothing`), `nn.NLLLoss()`,
 * `nn.MSELoss()` and `nn.BCEWithLogitsLoss()` (mean reduction): `forward(input, target)` returns
 * the loss `[1]`, recorded on the tape, so `loss.backward()` derives every gradient and
 * `await loss.item()` reads it. Each is one op (src/ops/loss.ts); the object holds no per-call
 * state and may be called any number of times.
 *
 * @module
 */

import {
  binaryCrossEntropyWithLogits,
  checkLabelSmoothing,
  crossEntropy,
  mseLoss,
  nllLoss,
} from "../ops/loss.ts";
import type { DType, Tensor } from "../tensor.ts";
import { pythonFloat } from "./module.ts";

/**
 * What the losses share: `forward(input, target)` and printing. Subclasses supply the op. The
 * target type is class labels (i32 `[N]`) unless said otherwise: what `fit` and `evaluate` take.
 *
 * @example
 * ```ts
 * import { CrossEntropyLoss, type Loss, MSELoss, type Tensor } from "@hajime/nn";
 * const classification: Loss = new CrossEntropyLoss();
 * const regression: Loss<Tensor> = new MSELoss();
 * console.log(`${classification}`, `${regression}`); // CrossEntropyLoss() MSELoss()
 * ```
 */
export abstract class Loss<T extends Tensor<DType> = Tensor<"i32">> {
  /**
   * input: the model's output, target: what it should be → the mean loss `[1]`, made by an op
   * (recorded when an input requires a gradient). Class labels uploaded from the CPU outside
   * [0, K) are an error naming the value.
   */
  abstract forward(input: Tensor, target: T): Tensor;

  /** PyTorch's `extra_repr`: the text inside the parentheses (`label_smoothing=0.1`). */
  extraRepr(): string {
    return "";
  }

  /** `CrossEntropyLoss()`, as PyTorch prints it. */
  toString(): string {
    return `${this.constructor.name}(${this.extraRepr()})`;
  }
}

/**
 * Options of `CrossEntropyLoss`, PyTorch's names in camelCase.
 *
 * @example
 * ```ts
 * import { CrossEntropyLoss, type CrossEntropyLossOptions } from "@hajime/nn";
 * const options: CrossEntropyLossOptions = { labelSmoothing: 0.1 };
 * console.log(new CrossEntropyLoss(options).labelSmoothing); // 0.1
 * ```
 */
export interface CrossEntropyLossOptions {
  /** Label smoothing ε in [0, 1] (default 0): the target is `(1 − ε)·onehot + ε/K`. */
  labelSmoothing?: number;
}

/**
 * `nn.CrossEntropyLoss(label_smoothing=ε)`: mean over the batch of −log softmax(logits)[label],
 * with label smoothing `(1 − ε)·` that `+ ε·` the mean over classes of −log softmax(logits) (as
 * PyTorch's formula). Given log-probabilities (the article's log_softmax heads) it behaves as
 * PyTorch does: log_softmax is applied again, which leaves log-probabilities unchanged.
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
  /** Label smoothing ε (0: none). */
  readonly labelSmoothing: number;

  /** Checks ε is in [0, 1]. */
  constructor(options: CrossEntropyLossOptions = {}) {
    super();
    const { labelSmoothing = 0 } = options;
    checkLabelSmoothing("CrossEntropyLoss", labelSmoothing);
    this.labelSmoothing = labelSmoothing;
  }

  /** logits: [N, K], labels: i32 [N] → `[1]`, the `crossEntropy` op. */
  forward(logits: Tensor, labels: Tensor<"i32">): Tensor {
    return crossEntropy(logits, labels, { labelSmoothing: this.labelSmoothing });
  }

  /** `label_smoothing=0.1` when smoothing, else nothing (PyTorch prints neither). */
  override extraRepr(): string {
    return this.labelSmoothing === 0 ? "" : `label_smoothing=${pythonFloat(this.labelSmoothing)}`;
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
 * const labels = Tensor.from([0, 1], [2], { dtype: "i32" });
 * const loss = lossFn.forward(Tensor.full([2, 10], -2), labels);
 * console.log(await loss.item()); // 2
 * ```
 */
export class NLLLoss extends Loss {
  /** logProbs: [N, K], labels: i32 [N] → `[1]`, the `nllLoss` op. */
  forward(logProbs: Tensor, labels: Tensor<"i32">): Tensor {
    return nllLoss(logProbs, labels);
  }
}

/**
 * `nn.MSELoss()`: the mean over every element of `(input − target)²`; both may require a
 * gradient.
 *
 * @example
 * ```ts
 * import { initGpu, MSELoss, Tensor } from "@hajime/nn";
 * await initGpu();
 * const prediction = Tensor.from([0.5, 2], [2, 1], { requiresGrad: true });
 * const loss = new MSELoss().forward(prediction, Tensor.from([1, 1], [2, 1]));
 * loss.backward();
 * console.log(await loss.item(), await prediction.grad!.read()); // 0.625, [-0.5, 1]
 * ```
 */
export class MSELoss extends Loss<Tensor> {
  /** input: any shape, target: same shape → `[1]`, the `mseLoss` op. */
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target);
  }
}

/**
 * `nn.BCEWithLogitsLoss()`: the binary cross-entropy of `sigmoid(input)` against probability
 * targets, mean over every element, computed from the logits stably (no sigmoid output needed).
 *
 * @example
 * ```ts
 * import { BCEWithLogitsLoss, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const logits = Tensor.from([3, -1], [2], { requiresGrad: true });
 * const loss = new BCEWithLogitsLoss().forward(logits, Tensor.from([1, 0], [2]));
 * loss.backward();
 * console.log(await loss.item(), await logits.grad!.read());
 * ```
 */
export class BCEWithLogitsLoss extends Loss<Tensor> {
  /** input: any shape (logits), target: same shape → `[1]`, `binaryCrossEntropyWithLogits`. */
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target);
  }
}
