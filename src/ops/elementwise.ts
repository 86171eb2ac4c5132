/**
 * Elementwise ops with their backward beside them (kernels in src/kernels/elementwise.ts,
 * shaders/elementwise.wgsl). Outputs are op-made tensors (src/autograd.ts: lifetimes).
 *
 * @module
 */

import { opTensor, passGradient, record, writeGrad } from "../autograd.ts";
import * as k from "../kernels/elementwise.ts";
import { checkShape, type Tensor } from "../tensor.ts";

/**
 * `y = max(x, 0)`, PyTorch's `F.relu`; backward `dx = dy · [y > 0]`.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * console.log(await F.relu(Tensor.from([-1, 2], [2])).read()); // [0, 2]
 * ```
 */
export function relu(x: Tensor): Tensor { // x: any shape → y: same shape
  checkShape("relu", "x", x, x.shape);
  const y = opTensor(x.shape, { label: "relu.y" });
  k.relu(x, y);
  record("relu", [x], y, (dy, [dx]) => writeGrad(dx, (into) => k.reluBackward(dy, y, into)));
  return y;
}

/**
 * `y = a + b` (same shapes); backward passes `dy` to both.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = Tensor.from([1, 2], [2]).add(Tensor.from([10, 20], [2])); // [11, 22]
 * ```
 */
export function add(a: Tensor, b: Tensor): Tensor { // a: any shape, b: same → y: same
  checkShape("add", "b", b, a.shape);
  const y = opTensor(a.shape, { label: "add.y" });
  k.add(a, b, y);
  record("add", [a, b], y, (dy, [da, db]) => {
    passGradient(da, dy);
    passGradient(db, dy);
  });
  return y;
}
