/**
 * A compute kernel: one entry point of a WGSL file with hajime's binding order, its cached
 * pipeline, and a `dispatch` that records into the open frame.
 *
 * Every kernel is declared one way, with {@link wgslKernels}: one maker per WGSL file (its owner,
 * its code, the params struct and override constants its entry points share), then one call per
 * entry point giving its buffer counts and any params or constants of its own. Tuned variants
 * that differ only in override constants (a workgroup size) come from {@link Kernel.withConstants}.
 *
 * The rules every shader and declaration follow (tests/kernel_params_test.ts checks each one
 * against shaders/):
 * - Entry points are camelCase, and a kernel's label is `Owner.entryPoint`, the label of every
 *   GPU object it makes.
 * - Binding order: `@binding(0)` the uniform params struct (bound with a dynamic offset into the
 *   frame's arena), then the read-only inputs (`var<storage, read>`), then the read-write outputs
 *   (`var<storage, read_write>`), all in `@group(0)`, in the order the TypeScript wrapper passes
 *   them.
 * - The params struct holds only u32, i32 and f32 fields, 4 bytes each, no padding; the
 *   declaration lists them by name and type in the struct's order.
 *
 * @module
 */

import { gpuDevice } from "./device.ts";
import { computePass, reserveUniformSlot, UNIFORM_SLOT, uniformArena } from "./step.ts";

/** The scalar types a params struct may hold, in WGSL's names. */
export type ParamType = "u32" | "i32" | "f32";

/** A kernel's description: where its code is and what it binds. */
export interface KernelSpec {
  /** `Owner.entryPoint`, e.g. `"Matmul.biasRows"`: the label of every GPU object it makes. */
  readonly label: string;
  /** The WGSL source. */
  readonly code: string;
  /** The entry point in `code`. */
  readonly entryPoint: string;
  /** The params struct's fields in WGSL order with their types; every field takes 4 bytes. */
  readonly params: Readonly<Record<string, ParamType>>;
  /** Number of read-only storage buffers, bound after the params. */
  readonly inputs: number;
  /** Number of read-write storage buffers, bound after the inputs. */
  readonly outputs: number;
  /** Values for the shader's `override` constants. */
  readonly constants?: Readonly<Record<string, number>>;
}

/** Anything that wraps a GPU buffer, such as a Tensor. */
export interface HasBuffer {
  /** The buffer to bind. */
  readonly buffer: GPUBuffer;
}

const modules = new Map<string, GPUShaderModule>();
const layouts = new Map<string, GPUBindGroupLayout>();
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
/** Bind groups are cached by pipeline and buffers; the cache is dropped whole when it grows past this. */
const MAX_BIND_GROUPS = 20000;
let bindGroups = new Map<string, GPUBindGroup>();

function bufferId(buffer: GPUBuffer): number {
  let id = bufferIds.get(buffer);
  if (id === undefined) bufferIds.set(buffer, id = nextBufferId++);
  return id;
}

function bindGroupLayout(device: GPUDevice, inputs: number, outputs: number): GPUBindGroupLayout {
  const key = `${inputs}:${outputs}`;
  let layout = layouts.get(key);
  if (!layout) {
    const entries: GPUBindGroupLayoutEntry[] = [{
      binding: 0,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: 0 },
    }];
    for (let i = 0; i < inputs + outputs; i++) {
      entries.push({
        binding: i + 1,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: i < inputs ? "read-only-storage" : "storage" },
      });
    }
    layout = device.createBindGroupLayout({ label: `Kernel.layout${key}`, entries });
    layouts.set(key, layout);
  }
  return layout;
}

/**
 * Splits `workgroups` into a 2-D grid within the per-dimension limit. Shaders rebuild the linear
 * index as `wid.x + wid.y * nwg.x` (with `@builtin(num_workgroups) nwg`) and skip indices past
 * the end.
 */
export function grid(workgroups: number): [number, number] {
  const max = gpuDevice().limits.maxComputeWorkgroupsPerDimension;
  if (workgroups <= max) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / max);
  return [Math.ceil(workgroups / y), y];
}

let bindingObserver: ((bound: HasBuffer | GPUBuffer) => void) | null = null;

/**
 * Calls `observer` with every buffer (or Tensor) each dispatch binds, until the returned function
 * is called: sizing probes such as `largestBatch` watch what a step binds.
 *
 * @example
 * ```ts
 * import { observeBindings } from "@hajime/nn/gpu";
 * let bound = 0;
 * const stop = observeBindings(() => bound++);
 * // ... record some kernels ...
 * stop();
 * console.log(bound); // buffers bound meanwhile
 * ```
 */
export function observeBindings(observer: (bound: HasBuffer | GPUBuffer) => void): () => void {
  bindingObserver = observer;
  return () => {
    if (bindingObserver === observer) bindingObserver = null;
  };
}

/**
 * One entry point of a WGSL file, ready to dispatch. Declare kernels with {@link wgslKernels},
 * which builds this spec for each entry point; the pipeline is created on first use and cached.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { wgslKernels } from "@hajime/nn/gpu";
 * await initGpu();
 * const code = `struct Params { n: u32, value: f32 }
 *   @group(0) @binding(0) var<uniform> params: Params;
 *   @group(0) @binding(1) var<storage, read_write> y: array<f32>;
 *   @compute @workgroup_size(64) fn fill(@builtin(global_invocation_id) id: vec3u) {
 *     if (id.x < params.n) { y[id.x] = params.value; }
 *   }`;
 * const fill = wgslKernels("Example", code, { params: { n: "u32", value: "f32" } })("fill", 0, 1);
 * const y = Tensor.empty([100]);
 * fill.dispatch({ n: 100, value: 1.5 }, [y], [2]);
 * ```
 */
export class Kernel {
  /** The spec this kernel was made from. */
  readonly spec: KernelSpec;
  #pipeline: GPUComputePipeline | null = null;
  #device: GPUDevice | null = null;
  #fields: [string, ParamType][];
  #variants = new Map<string, Kernel>();

  /** Takes the spec {@link wgslKernels} builds; its pipeline is created on first use and cached. */
  constructor(spec: KernelSpec) {
    this.spec = spec;
    this.#fields = Object.entries(spec.params);
    if (this.#fields.length * 4 > UNIFORM_SLOT) {
      throw new Error(`${spec.label}: params struct exceeds ${UNIFORM_SLOT} bytes`);
    }
  }

  /**
   * This kernel with `constants` merged over its own, e.g. a tuned workgroup size: one kernel
   * (and so one pipeline) per distinct set of constants, made on first use and cached. The label,
   * params and bindings stay this kernel's.
   *
   * @example
   * ```ts
   * import { wgslKernels } from "@hajime/nn/gpu";
   * const code = `override WORKGROUP: u32 = 64u;
   *   @group(0) @binding(1) var<storage, read_write> y: array<f32>;
   *   @compute @workgroup_size(WORKGROUP) fn zero(@builtin(global_invocation_id) id: vec3u) {
   *     y[id.x] = 0.0;
   *   }`;
   * const zero = wgslKernels("Example", code)("zero", 0, 1);
   * const wide = zero.withConstants({ WORKGROUP: 256 });
   * console.log(wide === zero.withConstants({ WORKGROUP: 256 }), wide.spec.label); // true Example.zero
   * ```
   */
  withConstants(constants: Readonly<Record<string, number>>): Kernel {
    const merged = { ...this.spec.constants, ...constants };
    const key = JSON.stringify(Object.entries(merged).sort(([a], [b]) => a < b ? -1 : 1));
    let kernel = this.#variants.get(key);
    if (!kernel) {
      kernel = new Kernel({ ...this.spec, constants: merged });
      this.#variants.set(key, kernel);
    }
    return kernel;
  }

  /** The compute pipeline, created once per device (an error here names the kernel). */
  pipeline(): GPUComputePipeline {
    const device = gpuDevice();
    if (this.#pipeline && this.#device === device) return this.#pipeline;
    const { label, code, entryPoint, constants, inputs, outputs } = this.spec;
    const storageLimit = device.limits.maxStorageBuffersPerShaderStage;
    if (inputs + outputs > storageLimit) {
      throw new Error(
        `${label}: binds ${inputs + outputs} storage buffers, more than this adapter allows ` +
          `(maxStorageBuffersPerShaderStage ${storageLimit})`,
      );
    }
    const moduleKey = `${label}\n${code}`;
    let module = modules.get(moduleKey);
    if (!module) {
      module = device.createShaderModule({ label: `${label}.module`, code });
      modules.set(moduleKey, module);
    }
    const layout = bindGroupLayout(device, inputs, outputs);
    this.#pipeline = device.createComputePipeline({
      label: `${label}.pipeline`,
      layout: device.createPipelineLayout({ label: `${label}.layout`, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint, constants: constants ? { ...constants } : undefined },
    });
    this.#device = device;
    return this.#pipeline;
  }

  /**
   * Records one dispatch into the open frame.
   *
   * @param params values for every field of the params struct
   * @param buffers the inputs then the outputs, in binding order
   * @param workgroups the workgroup counts `[x, y?, z?]`
   */
  dispatch(
    params: Readonly<Record<string, number>>,
    buffers: readonly (HasBuffer | GPUBuffer)[],
    workgroups: readonly number[],
  ): void {
    const { label, inputs, outputs } = this.spec;
    if (buffers.length !== inputs + outputs) {
      throw new Error(`${label}: expected ${inputs + outputs} buffers, got ${buffers.length}`);
    }
    const limits = gpuDevice().limits;
    for (const count of workgroups) {
      if (
        !Number.isInteger(count) || count < 0 || count > limits.maxComputeWorkgroupsPerDimension
      ) {
        throw new Error(
          `${label}: workgroup count ${count} is outside [0, ${limits.maxComputeWorkgroupsPerDimension}]` +
            ` (split large dispatches with grid())`,
        );
      }
    }
    const pipeline = this.pipeline();
    const layout = bindGroupLayout(gpuDevice(), inputs, outputs);
    const { offset, view } = reserveUniformSlot();
    for (let i = 0; i < this.#fields.length; i++) {
      const [name, type] = this.#fields[i];
      const value = params[name];
      if (value === undefined || !Number.isFinite(value)) {
        throw new Error(`${label}: param "${name}" is ${value}`);
      }
      if (type === "f32") view.setFloat32(i * 4, value, true);
      else if (type === "i32") view.setInt32(i * 4, value, true);
      else view.setUint32(i * 4, value, true);
    }
    if (bindingObserver) { for (const b of buffers) bindingObserver(b); }
    const raw = buffers.map((b) => "buffer" in b ? b.buffer : b);
    for (const buffer of raw) {
      if (buffer.size > limits.maxStorageBufferBindingSize) {
        throw new Error(
          `${label}: buffer "${buffer.label}" has ${buffer.size} bytes, more than this adapter ` +
            `binds at once (${limits.maxStorageBufferBindingSize}); use a smaller batch`,
        );
      }
    }
    const arena = uniformArena();
    const key = [inputs, outputs, this.#fields.length, bufferId(arena), ...raw.map(bufferId)]
      .join(",");
    let bindGroup = bindGroups.get(key);
    if (!bindGroup) {
      if (bindGroups.size >= MAX_BIND_GROUPS) bindGroups = new Map();
      const entries: GPUBindGroupEntry[] = [{
        binding: 0,
        resource: { buffer: arena, size: Math.max(4, this.#fields.length * 4) },
      }];
      raw.forEach((buffer, i) => entries.push({ binding: i + 1, resource: { buffer } }));
      bindGroup = gpuDevice().createBindGroup({
        label: `${label}.bindGroup`,
        layout,
        entries,
      });
      bindGroups.set(key, bindGroup);
    }
    const pass = computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup, [offset]);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
  }
}

/** Params and override constants of a WGSL file's entry points, or of one entry point. */
export interface KernelOptions {
  /** The params struct's fields in WGSL order with their types; an entry point's replace the file's. */
  readonly params?: Readonly<Record<string, ParamType>>;
  /** Values for `override` constants; an entry point's are merged over the file's. */
  readonly constants?: Readonly<Record<string, number>>;
}

/** Declares one entry point of a {@link wgslKernels} file: its buffer counts, params, constants. */
export type KernelMaker = (
  entryPoint: string,
  inputs: number,
  outputs: number,
  own?: KernelOptions,
) => Kernel;

const declared: Kernel[] = [];

/**
 * The one way to declare kernels: a maker for one WGSL file, `(entryPoint, inputs, outputs,
 * own?)` → a Kernel labelled `Owner.entryPoint`, binding the params, then `inputs` read-only and
 * `outputs` read-write storage buffers. `shared` holds the params struct and constants the file's
 * entry points share; `own` gives one entry point its own struct or extra constants.
 *
 * @example
 * ```ts
 * import { wgslKernels } from "@hajime/nn/gpu";
 * const code = `struct Params { n: u32 }
 *   @group(0) @binding(0) var<uniform> params: Params;
 *   @group(0) @binding(1) var<storage, read_write> y: array<f32>;
 *   @compute @workgroup_size(64) fn zero(@builtin(global_invocation_id) id: vec3u) {
 *     if (id.x < params.n) { y[id.x] = 0.0; }
 *   }`;
 * const kernel = wgslKernels("Example", code, { params: { n: "u32" } });
 * const zero = kernel("zero", 0, 1);
 * console.log(zero.spec.label, zero.spec.entryPoint); // Example.zero zero
 * ```
 */
export function wgslKernels(owner: string, code: string, shared: KernelOptions = {}): KernelMaker {
  return (entryPoint, inputs, outputs, own = {}) => {
    const constants = shared.constants || own.constants
      ? { ...shared.constants, ...own.constants }
      : undefined;
    const kernel = new Kernel({
      label: `${owner}.${entryPoint}`,
      code,
      entryPoint,
      params: own.params ?? shared.params ?? {},
      inputs,
      outputs,
      constants,
    });
    declared.push(kernel);
    return kernel;
  };
}

/**
 * Every kernel declared with {@link wgslKernels} so far, in order (not their
 * {@link Kernel.withConstants} variants): tests/kernel_params_test.ts checks each against its
 * WGSL, bench/pipeline_build.ts builds them all.
 *
 * @example
 * ```ts
 * import { declaredKernels } from "@hajime/nn/gpu";
 * const labels = declaredKernels().map((kernel) => kernel.spec.label);
 * console.log(labels.includes("Tensor.fill")); // true
 * ```
 */
export function declaredKernels(): readonly Kernel[] {
  return declared;
}
