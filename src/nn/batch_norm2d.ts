/**
 * `BatchNorm2d`: per-channel batch normalisation of NCHW batches, PyTorch's `nn.BatchNorm2d`
 * (affine, tracking running statistics) with its names: `weight` (γ), `bias` (β) and the buffers
 * `running_mean`, `running_var`, `num_batches_tracked`; and `BatchNormBase`, what it shares with
 * `BatchNorm1d` (PyTorch's `_BatchNorm`).
 *
 * @module
 */

import { batchNorm } from "../ops/batch_norm.ts";
import { checkShape, Tensor } from "../tensor.ts";
import { Module, Parameter, pythonFloat, type StateEntry } from "./module.ts";

/**
 * Options of `BatchNorm2d` (PyTorch's defaults).
 *
 * @example
 * ```ts
 * import type { BatchNorm2dOptions } from "@hajime/nn";
 * const options: BatchNorm2dOptions = { eps: 1e-5, momentum: 0.1 };
 * console.log(options.eps); // 0.00001
 * ```
 */
export interface BatchNorm2dOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Weight of the batch statistics in the running averages (default 0.1). */
  momentum?: number;
}

/**
 * What the batch-norm layers share (PyTorch's `_BatchNorm`): γ, β and the running statistics per
 * channel (dimension 1), training and eval behaviour, state-dict names and printing. Subclasses
 * say which input shapes they take. `paramGroupsNoDecay` finds batch-norm layers by this class.
 *
 * @example
 * ```ts
 * import { BatchNorm1d, BatchNorm2d, BatchNormBase, initGpu } from "@hajime/nn";
 * await initGpu();
 * const layers = [new BatchNorm1d(8), new BatchNorm2d(8)];
 * console.log(layers.every((l) => l instanceof BatchNormBase)); // true
 * ```
 */
export abstract class BatchNormBase extends Module {
  /** Channels. */
  readonly numFeatures: number;
  /** Variance epsilon. */
  readonly eps: number;
  /** Running-average momentum. */
  readonly momentum: number;
  /** γ, `[C]`, initially 1. */
  readonly weight: Parameter;
  /** β, `[C]`, initially 0. */
  readonly bias: Parameter;
  /** `[C]`, initially 0. */
  readonly runningMean: Tensor;
  /** `[C]`, initially 1. */
  readonly runningVar: Tensor;
  /** Scalar (shape `[]`): training forwards so far, mirrored from a CPU counter. */
  readonly numBatchesTracked: Tensor;
  #batches = 0;

  /** Creates the layer: γ = 1, β = 0, running mean 0 and variance 1. */
  constructor(numFeatures: number, options: BatchNorm2dOptions = {}) {
    super();
    const { eps = 1e-5, momentum = 0.1 } = options;
    const name = this.typeName();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) {
      throw new Error(`${name}: numFeatures must be ≥ 1, got ${numFeatures}`);
    }
    if (!(eps > 0)) throw new Error(`${name}: eps must be > 0, got ${eps}`);
    if (!(momentum >= 0 && momentum <= 1)) {
      throw new Error(`${name}: momentum must be in [0, 1], got ${momentum}`);
    }
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    const c = [numFeatures];
    this.weight = this.registerParameter(
      "weight",
      new Parameter(Tensor.full(c, 1, { label: `${name}.weight` })),
    );
    this.bias = this.registerParameter(
      "bias",
      new Parameter(Tensor.zeros(c, { label: `${name}.bias` })),
    );
    this.runningMean = this.registerBuffer(
      "running_mean",
      Tensor.zeros(c, { label: `${name}.running_mean` }),
    );
    this.runningVar = this.registerBuffer(
      "running_var",
      Tensor.full(c, 1, { label: `${name}.running_var` }),
    );
    this.numBatchesTracked = this.registerBuffer(
      "num_batches_tracked",
      Tensor.zeros([], { label: `${name}.num_batches_tracked` }),
    );
  }

  /** Throws unless `x` has a shape this layer takes, naming it. */
  protected abstract checkInput(x: Tensor): void;

  /**
   * x → y of the same shape, the `batchNorm` op with this layer's parameters and running
   * statistics, in the layer's mode; a training forward counts in `num_batches_tracked`.
   */
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const y = batchNorm(x, this.runningMean, this.runningVar, this.weight.data, this.bias.data, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
    if (this.training) this.numBatchesTracked.fill(++this.#batches);
    return y;
  }

  /** A missing `num_batches_tracked` loads as 0, as in PyTorch. */
  protected override localStateDefaults(): ReadonlyMap<string, StateEntry> {
    return new Map([["num_batches_tracked", { shape: [], data: new Float32Array(1) }]]);
  }

  /** Keeps the CPU counter in step with a loaded `num_batches_tracked`. */
  protected override afterLoad(state: ReadonlyMap<string, StateEntry>): void {
    this.#batches = state.get("num_batches_tracked")?.data[0] ?? 0;
  }

  /** `16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True`. */
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pythonFloat(this.eps)}, ` +
      `momentum=${pythonFloat(this.momentum)}, affine=True, track_running_stats=True`;
  }
}

/**
 * Batch normalisation over N, H and W for each channel, `nn.BatchNorm2d(numFeatures)`. In
 * training mode it normalises with the batch statistics and updates the running ones (unbiased
 * variance, as PyTorch); in eval mode it uses the running statistics. Each training-mode call
 * updates them, as in PyTorch.
 *
 * @example
 * ```ts
 * import { BatchNorm2d, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const bn = new BatchNorm2d(16);
 * const y = bn.forward(Tensor.full([4, 16, 8, 8], 1)); // training: batch statistics
 * bn.eval();
 * const z = bn.forward(Tensor.full([4, 16, 8, 8], 1)); // running statistics
 * console.log(y.shape, z.shape);
 * ```
 */
export class BatchNorm2d extends BatchNormBase {
  /** x: [N, C, H, W] with C = numFeatures. */
  protected checkInput(x: Tensor): void {
    checkShape("BatchNorm2d.forward", "x", x, [null, this.numFeatures, null, null]);
  }
}
