/**
 * The tape: define-by-run reverse-mode autograd, as in PyTorch, micrograd and tinygrad. Every op
 * (src/ops/) records its kernels into the open frame and, when an input requires a gradient, a
 * `Node` holding what its backward needs. `loss.backward()` walks the nodes in reverse
 * topological order; a tensor that feeds several ops receives the sum of their gradients; leaf
 * gradients (parameters) accumulate until `zeroGrad()`.
 *
 * Lifetimes. Tensors made by ops come from the buffer pool and belong to the step in which they
 * were made. A new step begins at `zeroGrad()` (of a module or an optimizer), and at a top-level
 * module call (one not inside another module's forward) that can start nothing still needed: under
 * `noGrad`, in eval mode, or when every graph recorded so far went through `backward()`. A new
 * step releases the tensors of the step before the previous one: the outputs and the loss of the
 * last batch stay readable while the next batch runs, a graph built from several top-level calls
 * stays whole until its backward, and a loop written as the article writes it keeps a flat
 * memory. `keep()` takes a tensor out of its step (the caller disposes it). Gradients of non-leaf
 * tensors live only during `backward()`. Releasing in reverse order of creation hands the next
 * step the same buffers in the same order, which keeps the bind-group cache warm.
 *
 * @module
 */

import { addInto } from "./kernels/elementwise.ts";
import { type DType, materialize, Tensor, type TensorOptions } from "./tensor.ts";

/**
 * Where an op's backward writes the gradient of one of its inputs. The tape creates one per input
 * that requires a gradient (`null` for the others).
 */
export interface GradSlot {
  /** True when a gradient is already there: add into `tensor()`; false: overwrite it. */
  readonly accumulate: boolean;
  /** The input's gradient tensor (its shape), allocated on first use. */
  tensor(): Tensor;
  /**
   * Hands `grad` (an op-made tensor or a view of `dy`, the input's shape) over as the whole
   * gradient, without a copy; only when `accumulate` is false.
   */
  assign(grad: Tensor): void;
}

/**
 * An op's backward: records kernels that turn `dy` (the gradient of the output) into the
 * gradients of the inputs, one slot per input in the order `record` received them.
 */
export type BackwardFn = (dy: Tensor, dx: readonly (GradSlot | null)[]) => void;

/** One recorded op: its inputs, its output and its backward (dropped once the graph is freed). */
export class Node {
  /** The op name errors use (`conv2d`, `relu`, ...). */
  readonly op: string;
  /** The op's tensor inputs, in the order its backward's slots follow. */
  readonly inputs: readonly Tensor<DType>[];
  /** The tensor the op produced. */
  readonly output: Tensor<DType>;
  #backward: BackwardFn | null;

  /** Records `op` with its inputs, output and backward. */
  constructor(
    op: string,
    inputs: readonly Tensor<DType>[],
    output: Tensor<DType>,
    backward: BackwardFn,
  ) {
    this.op = op;
    this.inputs = inputs;
    this.output = output;
    this.#backward = backward;
  }

  /** True once a backward without `retainGraph` went through this node. */
  get freed(): boolean {
    return this.#backward === null;
  }

  /** Runs the backward; frees it unless `retain`. */
  run(dy: Tensor, slots: readonly (GradSlot | null)[], retain: boolean): void {
    const backward = this.#backward;
    if (!backward) {
      throw new Error(
        `backward: the graph through "${this.op}" was already freed by an earlier backward() ` +
          "(call the first one with { retainGraph: true } to go through it twice)",
      );
    }
    if (!retain) this.#backward = null;
    backward(dy, slots);
  }
}

let gradEnabled = true;

/** True unless inside `noGrad`. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs `fn` without recording any node (PyTorch's `torch.no_grad()`), for evaluation and
 * prediction; returns what `fn` returns (awaited when it is a promise).
 *
 * @example
 * ```ts
 * import { initGpu, noGrad, Tensor } from "@hajime/nn";
 * await initGpu();
 * const w = Tensor.from([1, -2], [2], { requiresGrad: true });
 * const y = noGrad(() => w.relu());
 * console.log(y.requiresGrad); // false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  let result: T;
  try {
    result = fn();
  } catch (error) {
    gradEnabled = before;
    throw error;
  }
  if (result instanceof Promise) {
    return result.finally(() => gradEnabled = before) as T;
  }
  gradEnabled = before;
  return result;
}

/** Tensors of the current and the previous generation, in order of creation. */
let current: Tensor<DType>[] = [];
let previous: Tensor<DType>[] = [];
let modelDepth = 0;
/** Op-made tensors since the step began (kept ones included): 0 makes `beginStep` a no-op. */
let opsInStep = 0;
/** Nodes recorded since the last `backward()`: a top-level call then continues the step. */
let pendingNodes = 0;
/** Top-level model calls in a row that continued a step whose graph was never backwarded. */
let callsWithoutBackward = 0;
/** That many in a row look like inference without `noGrad`: every graph holds its tensors. */
const CALLS_WITHOUT_BACKWARD_WARNING = 16;
let warnedCallsWithoutBackward = false;
const RELEASE_NOTE = "it was made by an op two steps ago and released (a step begins at " +
  "zeroGrad() or at a model call under noGrad, in eval mode or after backward(); call keep() " +
  "on a tensor to hold it longer, and dispose() it when done)";

/**
 * A tensor made by an op (an output, or a tensor an op saves for its backward): from the pool,
 * released automatically with its generation.
 */
export function opTensor<D extends DType = "f32">(
  shape: readonly number[],
  options: TensorOptions<D> = {},
): Tensor<D> {
  const tensor = Tensor.empty<D>(shape, options);
  current.push(tensor as Tensor<DType>);
  opsInStep++;
  return tensor;
}

/** Removes `tensor` from automatic release (`Tensor.keep()`). */
export function keepTensor(tensor: Tensor<DType>): void {
  for (const list of [current, previous]) {
    const i = list.lastIndexOf(tensor);
    if (i >= 0) list.splice(i, 1);
  }
}

function releaseAll(list: Tensor<DType>[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    Tensor.markReleased(list[i], RELEASE_NOTE);
    list[i].dispose();
  }
}

/**
 * Begins a new step: releases the op-made tensors of the step before the previous one (nothing
 * when no op ran since the last step began). `zeroGrad()` calls it.
 */
export function beginStep(): void {
  callsWithoutBackward = 0;
  if (opsInStep === 0) return;
  opsInStep = 0;
  releaseAll(previous);
  previous = current;
  current = [];
}

/**
 * Runs a module's forward; a top-level call (not inside another module's forward) begins a new
 * step when that cannot cut a graph still waiting for its backward: under noGrad, for a module
 * in eval mode, or with no node recorded since the last backward.
 */
export function callModel<T>(forward: () => T, training: boolean): T {
  if (modelDepth === 0) {
    if (!gradEnabled || !training || pendingNodes === 0) beginStep();
    else if (++callsWithoutBackward === CALLS_WITHOUT_BACKWARD_WARNING) warnGraphsKept();
  }
  modelDepth++;
  try {
    return forward();
  } finally {
    modelDepth--;
  }
}

function warnGraphsKept(): void {
  if (warnedCallsWithoutBackward) return;
  warnedCallsWithoutBackward = true;
  console.warn(
    `hajime: ${CALLS_WITHOUT_BACKWARD_WARNING} model calls in a row in training mode recorded ` +
      "graphs that no backward() used, and each holds its tensors on the GPU until one does; " +
      "for inference, call the model inside noGrad(() => ...) or after model.eval()",
  );
}

/**
 * Makes `output` the result of op `op` on `inputs`: when grad mode is on (`enabled`: the mode the
 * op ran in, for a write the op deferred) and an input requires a gradient, records a node with
 * `backward` and marks `output` as requiring a gradient. An input whose write was deferred is
 * written first, so that the graph holds every node that made its inputs.
 */
export function record(
  op: string,
  inputs: readonly Tensor<DType>[],
  output: Tensor<DType>,
  backward: BackwardFn,
  enabled: boolean = gradEnabled,
): void {
  for (const t of inputs) materialize(t);
  if (!enabled || !inputs.some((t) => t.requiresGrad)) return;
  output.requiresGrad = true;
  output.gradFn = new Node(op, inputs, output, backward);
  pendingNodes++;
}

/** The nodes reachable from `root`, each after every node that consumes its output. */
function reverseTopological(root: Node): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>([root]);
  const stack: [Node, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, next] = top;
    if (next < node.inputs.length) {
      top[1]++;
      const child = node.inputs[next].gradFn;
      if (child && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse();
}

/** A gradient on its way: the tensor, and the pooled tensor that owns its buffer. */
interface Pending {
  grad: Tensor;
  owner: Tensor;
}

/** Options of `Tensor.backward`. */
export interface BackwardOptions {
  /** The gradient of the final output (default: 1 for a one-element tensor). */
  gradient?: Tensor;
  /** Keep the graph so a second backward can go through it (default false). */
  retainGraph?: boolean;
}

/** Seeds of `backward()` calls that start from 1 and free the graph (`isUnitSeed`). */
const unitSeeds = new WeakSet<Tensor<DType>>();

/**
 * True when `dy` is the 1 that `backward()` starts a loss from, with the graph freed after: a
 * loss op may then hand over (assign) the gradient its forward saved instead of scaling it by dy.
 */
export function isUnitSeed(dy: Tensor): boolean {
  return unitSeeds.has(dy as Tensor<DType>);
}

/**
 * Back-propagates from `root`: every leaf that requires a gradient gets it added into `grad`.
 * Records kernels into the open frame; submits nothing.
 */
export function backward(root: Tensor<DType>, options: BackwardOptions = {}): void {
  const name = `backward of "${root.label}"`;
  if (!root.requiresGrad) {
    throw new Error(
      `${name}: the tensor does not require a gradient (made under noGrad, or from tensors ` +
        "that need none)",
    );
  }
  if (root.dtype !== "f32") throw new Error(`${name}: a ${root.dtype} tensor has no gradient`);
  const { gradient, retainGraph = false } = options;
  materialize(root); // a deferred write records the node backward starts from
  if (gradient && (gradient.size !== root.size || gradient.dtype !== "f32")) {
    throw new Error(
      `${name}: gradient is ${gradient.dtype} [${gradient.shape.join(", ")}], expected f32 [${
        root.shape.join(", ")
      }]`,
    );
  }
  if (!gradient && root.size !== 1) {
    throw new Error(
      `${name}: the tensor has shape [${root.shape.join(", ")}]; backward() without a gradient ` +
        "needs a one-element tensor (a loss), else pass { gradient }",
    );
  }
  // The caller's gradient is copied so that the tape owns every gradient it frees.
  const seed = Tensor.empty(root.shape, { label: "backward.seed" });
  if (gradient) seed.copyFrom(gradient.reshape(root.shape));
  else seed.fill(1);
  if (!gradient && !retainGraph) unitSeeds.add(seed);
  const node = root.gradFn;
  if (!node) {
    slotFor(root, new Map()).tensor();
    addInto((root as Tensor).grad!, seed);
    seed.dispose();
    return;
  }
  pendingNodes = 0;
  callsWithoutBackward = 0;
  const pending = new Map<Tensor<DType>, Pending>([[root, { grad: seed, owner: seed }]]);
  for (const n of reverseTopological(node)) {
    const entry = pending.get(n.output);
    if (!entry) continue;
    pending.delete(n.output);
    checkAlive(n);
    const slots = n.inputs.map((input) => input.requiresGrad ? slotFor(input, pending) : null);
    reading = entry.owner;
    try {
      n.run(entry.grad, slots, retainGraph);
    } finally {
      reading = null;
    }
    // A gradient handed on by assign() lives on in its new entry.
    if (users(entry.owner, pending) === 0) entry.owner.dispose();
  }
  for (const entry of pending.values()) entry.owner.dispose();
}

function checkAlive(node: Node): void {
  for (const t of [node.output, ...node.inputs]) {
    if (t.disposed) {
      throw new Error(
        `backward: "${t.label}" (of op "${node.op}") is no longer alive: ${
          t.releaseNote ?? "it was disposed"
        }`,
      );
    }
  }
}

/** The buffer owner of the dy the running node's backward reads. */
let reading: Tensor | null = null;

/** The slot through which an op's backward writes `input`'s gradient. */
function slotFor(input: Tensor<DType>, pending: Map<Tensor<DType>, Pending>): GradSlot {
  const leaf = input.gradFn === null;
  const t = input as Tensor;
  return {
    get accumulate(): boolean {
      return leaf || pending.has(input);
    },
    tensor(): Tensor {
      if (leaf) return t.grad ??= Tensor.zeros(t.shape, { label: `${t.label}.grad` });
      let entry = pending.get(input);
      if (entry && (entry.owner === reading || sharedOwner(entry, pending))) {
        // The caller writes into it: copy a gradient that other inputs share or that the
        // running backward reads as its dy.
        const copy = Tensor.empty(t.shape, { label: `${t.label}.grad` }).copyFrom(entry.grad);
        entry = { grad: copy, owner: copy };
        pending.set(input, entry);
      }
      if (!entry) {
        const grad = Tensor.empty(t.shape, { label: `${t.label}.grad` });
        entry = { grad, owner: grad };
        pending.set(input, entry);
      }
      return entry.grad;
    },
    assign(grad: Tensor): void {
      if (this.accumulate) {
        throw new Error(`backward: "${t.label}" already has a gradient; add into tensor()`);
      }
      // Several inputs may share one gradient buffer until one of them writes into it.
      pending.set(input, { grad: grad.reshape(t.shape), owner: grad.base as Tensor });
    },
  };
}

function sharedOwner(entry: Pending, pending: Map<Tensor<DType>, Pending>): boolean {
  return users(entry.owner, pending) > 1;
}

/** How many pending gradients use `owner`'s buffer. */
function users(owner: Tensor, pending: Map<Tensor<DType>, Pending>): number {
  let count = 0;
  for (const p of pending.values()) if (p.owner === owner) count++;
  return count;
}

/**
 * Passes `grad` on unchanged as (part of) an input's gradient: handed over when the slot is
 * empty, else added (ops whose backward is the identity on an input use it: add, view, ...).
 */
export function passGradient(slot: GradSlot | null, grad: Tensor): void {
  if (!slot) return;
  if (!slot.accumulate) return slot.assign(grad);
  const target = slot.tensor();
  if (target.buffer !== grad.buffer) return addInto(target, grad.reshape(target.shape));
  // x.add(x): the gradient handed over for the first use is `grad` itself.
  const copy = Tensor.empty(target.shape, { label: "backward.copy" }).copyFrom(
    grad.reshape(target.shape),
  );
  addInto(target, copy);
  copy.dispose();
}

/** The gradient for a kernel that adds into its output: zero-filled first when still empty. */
export function gradForAdding(slot: GradSlot): Tensor {
  const fresh = !slot.accumulate;
  const grad = slot.tensor();
  if (fresh) grad.fill(0);
  return grad;
}

/**
 * Records `write` (a kernel that overwrites its output) for the slot's gradient: straight into it
 * when still empty, else into a temporary that is then added in.
 */
export function writeGrad(slot: GradSlot | null, write: (into: Tensor) => void): void {
  if (!slot) return;
  if (!slot.accumulate) return write(slot.tensor());
  const target = slot.tensor();
  const temp = Tensor.empty(target.shape, { label: "backward.partial" });
  write(temp);
  addInto(target, temp);
  temp.dispose();
}

/**
 * `writeGrad` for a kernel that overwrites two gradients in one call (a channel split, the
 * Shake-Shake mix): a slot that needs no gradient gets a scratch tensor of its shape in `shapes`.
 */
export function writeGradPair(
  slots: readonly [GradSlot | null, GradSlot | null],
  shapes: readonly [readonly number[], readonly number[]],
  write: (intoA: Tensor, intoB: Tensor) => void,
): void {
  const [a, b] = slots;
  if (!a && !b) return;
  writeOrDiscard(
    a,
    shapes[0],
    (intoA) => writeOrDiscard(b, shapes[1], (intoB) => write(intoA, intoB)),
  );
}

function writeOrDiscard(
  slot: GradSlot | null,
  shape: readonly number[],
  write: (into: Tensor) => void,
): void {
  if (slot) return writeGrad(slot, write);
  const unused = Tensor.empty(shape, { label: "backward.unused" });
  write(unused);
  unused.dispose();
}
