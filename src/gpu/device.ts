/**
 * The one shared GPUDevice of the process: adapter choice, the limits hajime asks for, and the
 * translation of lost-device and validation errors into errors that name the GPU object at fault.
 *
 * @module
 */

/** What hajime knows about the device it runs on. */
export interface GpuInfo {
  /** The adapter's own description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" or "NVIDIA H100". */
  readonly description: string;
  /** True on software rasterizers (llvmpipe, lavapipe, SwiftShader, WARP). */
  readonly isSoftware: boolean;
  /** The limits the device was created with. */
  readonly limits: GPUSupportedLimits;
  /**
   * The adapter's subgroup size (its SIMD width in invocations: 8 on llvmpipe at 256 bits, 4 on
   * SwiftShader, 32 on NVIDIA) where it reports a single one (`subgroupMinSize` =
   * `subgroupMaxSize`), else llvmpipe's from its description (wgpu's GL backend reports 4 to
   * 128 there), else null.
   */
  readonly subgroupSize: number | null;
}

/** An error raised by the GPU: a validation error, out of memory, or a lost device. */
export class GpuError extends Error {
  /** Creates the error; `message` names the GPU object (its `Owner.purpose` label) at fault. */
  constructor(message: string) {
    super(message);
    this.name = "GpuError";
  }
}

/** Limits hajime asks for at the adapter's own maximum, since the defaults are too small. */
const RAISED_LIMITS = [
  "maxStorageBuffersPerShaderStage",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupsPerDimension",
] as const;

let devicePromise: Promise<GPUDevice> | null = null;
let current: GPUDevice | null = null;
let info: GpuInfo | null = null;
let pendingError: GpuError | null = null;

const INSTALL_HINT =
  "hajime needs a WebGPU adapter: any GPU with a Vulkan, Metal or D3D12 driver, " +
  "or on a machine without one Mesa's software Vulkan driver " +
  "(Debian/Ubuntu: apt-get install mesa-vulkan-drivers).";

function isSoftwareAdapter(adapterInfo: GPUAdapterInfo): boolean {
  const text = `${adapterInfo.description} ${adapterInfo.device} ${adapterInfo.vendor}`;
  return /llvmpipe|lavapipe|swiftshader|warp|software/i.test(text) ||
    (adapterInfo as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
}

/** llvmpipe's SIMD width from its description, "llvmpipe (LLVM 15.0.6, 256 bits)": 256 / 32. */
function subgroupFromDescription(description: string): number | null {
  const bits = /llvmpipe.*\b(\d+) bits/.exec(description);
  return bits ? Math.max(1, Number(bits[1]) / 32) : null;
}

async function createDevice(): Promise<GPUDevice> {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
    throw new GpuError(`navigator.gpu is missing: this runtime has no WebGPU. ${INSTALL_HINT}`);
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new GpuError(`No WebGPU adapter was found. ${INSTALL_HINT}`);
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ label: "hajime.device", requiredLimits });
  device.addEventListener("uncapturederror", (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    pendingError ??= new GpuError(`WebGPU ${error.constructor.name}: ${error.message}`);
  });
  device.lost.then((lost) => {
    if (current === device) {
      current = null;
      devicePromise = null;
    }
    if (lost.reason !== "destroyed") {
      pendingError ??= new GpuError(`The GPU device was lost (${lost.reason}): ${lost.message}`);
    }
  });
  const adapterInfo = adapter.info;
  const { subgroupMinSize, subgroupMaxSize } = adapterInfo;
  const named = [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.device];
  info = {
    // Browsers often leave the description empty: vendor and architecture ("google swiftshader")
    // still tell adapters apart in the autotune cache.
    description: adapterInfo.description || named.filter(Boolean).join(" ") || "unknown",
    isSoftware: isSoftwareAdapter(adapterInfo),
    limits: device.limits,
    subgroupSize: subgroupMaxSize && subgroupMinSize === subgroupMaxSize
      ? subgroupMaxSize
      : subgroupFromDescription(adapterInfo.description),
  };
  current = device;
  return device;
}

/**
 * Returns the shared device, creating it on the first call.
 *
 * @example
 * ```ts
 * import { initGpu } from "@hajime/nn";
 * const device = await initGpu();
 * console.log(device.limits.maxBufferSize);
 * ```
 */
export function initGpu(): Promise<GPUDevice> {
  devicePromise ??= createDevice().catch((error) => {
    devicePromise = null;
    throw error;
  });
  return devicePromise;
}

/**
 * The shared device, for code that records GPU work synchronously after `await initGpu()`.
 *
 * @example
 * ```ts
 * import { initGpu } from "@hajime/nn";
 * import { gpuDevice } from "@hajime/nn/gpu";
 * await initGpu();
 * const device = gpuDevice();
 * console.log(device.limits.maxStorageBufferBindingSize);
 * ```
 */
export function gpuDevice(): GPUDevice {
  if (!current) {
    throw new GpuError("The GPU is not initialised: call `await initGpu()` before using tensors.");
  }
  return current;
}

/**
 * Facts about the adapter in use (description, software or not, limits).
 *
 * @example
 * ```ts
 * import { gpuInfo, initGpu } from "@hajime/nn";
 * await initGpu();
 * console.log(gpuInfo().description);
 * ```
 */
export function gpuInfo(): GpuInfo {
  if (!info) throw new GpuError("The GPU is not initialised: call `await initGpu()` first.");
  return info;
}

/**
 * Throws the first GPU error reported since the last call, if any. Called after every submit and
 * readback, so a validation error surfaces at the step that caused it.
 *
 * @example
 * ```ts
 * import { throwPendingGpuError } from "./device.ts";
 * throwPendingGpuError();
 * ```
 */
export function throwPendingGpuError(): void {
  if (pendingError) {
    const error = pendingError;
    pendingError = null;
    throw error;
  }
}
