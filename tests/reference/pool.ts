/**
 * Float64 reference of the pooling kernels (max pooling, average pooling, adaptive average / max
 * pooling, shifted subsampling, channel concatenation), plain loops; the backward passes scatter
 * as PyTorch's CPU kernels do (the GPU gathers).
 *
 * @module
 */

/** Max pooling, floor mode, no padding; argmax is h·W + w in the plane (first maximum wins). */
export function maxPool2dRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  kernel: number,
  stride: number,
): { y: Float64Array; argmax: Int32Array; outShape: number[] } {
  const [n, c, h, w] = shape;
  const oh = Math.floor((h - kernel) / stride) + 1;
  const ow = Math.floor((w - kernel) / stride) + 1;
  const y = new Float64Array(n * c * oh * ow);
  const argmax = new Int32Array(y.length);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let best = -Infinity;
        let arg = -1;
        for (let ki = 0; ki < kernel; ki++) {
          for (let kj = 0; kj < kernel; kj++) {
            const pos = (i * stride + ki) * w + j * stride + kj;
            if (x[p * h * w + pos] > best) {
              best = x[p * h * w + pos];
              arg = pos;
            }
          }
        }
        y[(p * oh + i) * ow + j] = best;
        argmax[(p * oh + i) * ow + j] = arg;
      }
    }
  }
  return { y, argmax, outShape: [n, c, oh, ow] };
}

/** Backward of max pooling: dy routed to the argmax positions, summed, zero elsewhere. */
export function maxPool2dBackwardRef(
  dy: ArrayLike<number>,
  argmax: ArrayLike<number>,
  outPlane: number,
  shape: readonly number[],
): Float64Array {
  const [n, c, h, w] = shape;
  const dx = new Float64Array(n * c * h * w);
  for (let i = 0; i < dy.length; i++) dx[Math.floor(i / outPlane) * h * w + argmax[i]] += dy[i];
  return dx;
}

/** Mean of every plane: y [N, C]. */
export function adaptiveAvgPool1Ref(x: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const [n, c, h, w] = shape;
  const y = new Float64Array(n * c);
  for (let p = 0; p < n * c; p++) {
    let s = 0;
    for (let j = 0; j < h * w; j++) s += x[p * h * w + j];
    y[p] = s / (h * w);
  }
  return y;
}

/** Backward of the mean: dx = dy[plane]/(H·W). */
export function adaptiveAvgPool1BackwardRef(
  dy: ArrayLike<number>,
  shape: readonly number[],
): Float64Array {
  const [n, c, h, w] = shape;
  return Float64Array.from(
    { length: n * c * h * w },
    (_, i) => dy[Math.floor(i / (h * w))] / (h * w),
  );
}

/** Maximum of every plane and its position (first maximum wins). */
export function adaptiveMaxPool1Ref(
  x: ArrayLike<number>,
  shape: readonly number[],
): { y: Float64Array; argmax: Int32Array } {
  const [n, c, h, w] = shape;
  const plane = h * w;
  const y = new Float64Array(n * c);
  const argmax = new Int32Array(n * c);
  for (let p = 0; p < n * c; p++) {
    let arg = 0;
    for (let j = 1; j < plane; j++) if (x[p * plane + j] > x[p * plane + arg]) arg = j;
    y[p] = x[p * plane + arg];
    argmax[p] = arg;
  }
  return { y, argmax };
}

/** Backward of the plane maximum: dy at the argmax, zero elsewhere. */
export function adaptiveMaxPool1BackwardRef(
  dy: ArrayLike<number>,
  argmax: ArrayLike<number>,
  shape: readonly number[],
): Float64Array {
  const [n, c, h, w] = shape;
  const dx = new Float64Array(n * c * h * w);
  for (let p = 0; p < n * c; p++) dx[p * h * w + argmax[p]] = dy[p];
  return dx;
}

/** y[n, c, i, j] = x[n, c, i·stride + shift, j·stride + shift] or 0; OH = ⌈H/stride⌉. */
export function shiftSubsampleRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  stride: number,
  shift: number,
): { y: Float64Array; outShape: number[] } {
  const [n, c, h, w] = shape;
  const oh = Math.ceil(h / stride);
  const ow = Math.ceil(w / stride);
  const y = new Float64Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const hi = i * stride + shift;
        const wj = j * stride + shift;
        const inside = hi >= 0 && hi < h && wj >= 0 && wj < w;
        y[(p * oh + i) * ow + j] = inside ? x[(p * h + hi) * w + wj] : 0;
      }
    }
  }
  return { y, outShape: [n, c, oh, ow] };
}

/** Backward of shiftSubsample: dy scattered back to the sampled positions, zero elsewhere. */
export function shiftSubsampleBackwardRef(
  dy: ArrayLike<number>,
  shape: readonly number[],
  stride: number,
  shift: number,
): Float64Array {
  const [n, c, h, w] = shape;
  const oh = Math.ceil(h / stride);
  const ow = Math.ceil(w / stride);
  const dx = new Float64Array(n * c * h * w);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const hi = i * stride + shift;
        const wj = j * stride + shift;
        if (hi >= 0 && hi < h && wj >= 0 && wj < w) {
          dx[(p * h + hi) * w + wj] += dy[(p * oh + i) * ow + j];
        }
      }
    }
  }
  return dx;
}

/** y = [a, b] along channels; a [N, Ca, H, W], b [N, Cb, H, W]. */
export function concatChannelsRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  ca: number,
  cb: number,
  plane: number,
): Float64Array {
  const y = new Float64Array(n * (ca + cb) * plane);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < ca * plane; j++) y[k++] = a[i * ca * plane + j];
    for (let j = 0; j < cb * plane; j++) y[k++] = b[i * cb * plane + j];
  }
  return y;
}

/** Backward of the concatenation: the first Ca and the last Cb channels of dy. */
export function splitChannelsRef(
  dy: ArrayLike<number>,
  n: number,
  ca: number,
  cb: number,
  plane: number,
): { da: Float64Array; db: Float64Array } {
  const da = new Float64Array(n * ca * plane);
  const db = new Float64Array(n * cb * plane);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < ca * plane; j++) da[i * ca * plane + j] = dy[k++];
    for (let j = 0; j < cb * plane; j++) db[i * cb * plane + j] = dy[k++];
  }
  return { da, db };
}

/** Average-pooling geometry: `[height, width]` pairs, PyTorch's count_include_pad. */
export interface AvgPoolRef {
  kernel: readonly [number, number];
  stride: readonly [number, number];
  padding: readonly [number, number];
  countIncludePad: boolean;
}

/** An avg-pool window: input rows [h0, h1) and columns [w0, w1) inside x, and its divisor. */
interface Box {
  h0: number;
  h1: number;
  w0: number;
  w1: number;
  div: number;
}

/** The windows of PyTorch's avg_pool2d (floor mode), in output order. */
function avgWindows(shape: readonly number[], o: AvgPoolRef): { outShape: number[]; boxes: Box[] } {
  const [n, c, h, w] = shape;
  const oh = Math.floor((h + 2 * o.padding[0] - o.kernel[0]) / o.stride[0]) + 1;
  const ow = Math.floor((w + 2 * o.padding[1] - o.kernel[1]) / o.stride[1]) + 1;
  const boxes: Box[] = [];
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      // As PyTorch's kernel: the window clipped to the padded plane for the divisor, then to x.
      const top = i * o.stride[0] - o.padding[0];
      const left = j * o.stride[1] - o.padding[1];
      const bottom = Math.min(top + o.kernel[0], h + o.padding[0]);
      const right = Math.min(left + o.kernel[1], w + o.padding[1]);
      const box = {
        h0: Math.max(top, 0),
        h1: Math.min(bottom, h),
        w0: Math.max(left, 0),
        w1: Math.min(right, w),
        div: (bottom - top) * (right - left),
      };
      if (!o.countIncludePad) box.div = (box.h1 - box.h0) * (box.w1 - box.w0);
      boxes.push(box);
    }
  }
  return { outShape: [n, c, oh, ow], boxes };
}

/** avg_pool2d of x [N, C, H, W]. */
export function avgPool2dRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  o: AvgPoolRef,
): { y: Float64Array; outShape: number[] } {
  const [n, c, h, w] = shape;
  const { outShape, boxes } = avgWindows(shape, o);
  const y = new Float64Array(n * c * boxes.length);
  for (let p = 0; p < n * c; p++) {
    boxes.forEach((b, q) => {
      let s = 0;
      for (let r = b.h0; r < b.h1; r++) {
        for (let col = b.w0; col < b.w1; col++) s += x[(p * h + r) * w + col];
      }
      y[p * boxes.length + q] = s / b.div;
    });
  }
  return { y, outShape };
}

/** Backward of avg_pool2d: each dy spread over its window, divided by the window's divisor. */
export function avgPool2dBackwardRef(
  dy: ArrayLike<number>,
  shape: readonly number[],
  o: AvgPoolRef,
): Float64Array {
  const [n, c, h, w] = shape;
  const { boxes } = avgWindows(shape, o);
  const dx = new Float64Array(n * c * h * w);
  for (let p = 0; p < n * c; p++) {
    boxes.forEach((b, q) => {
      const g = dy[p * boxes.length + q] / b.div;
      for (let r = b.h0; r < b.h1; r++) {
        for (let col = b.w0; col < b.w1; col++) dx[(p * h + r) * w + col] += g;
      }
    });
  }
  return dx;
}

/** PyTorch's adaptive window i of an axis: [⌊i·size/out⌋, ⌈(i+1)·size/out⌉). */
function adaptiveRange(i: number, size: number, out: number): [number, number] {
  return [Math.floor(i * size / out), Math.ceil((i + 1) * size / out)];
}

/** Adaptive average / max pooling of x [N, C, H, W] to [OH, OW]; argmax h·W + w, first max. */
export function adaptivePool2dRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  out: readonly [number, number],
): { avg: Float64Array; max: Float64Array; argmax: Int32Array; outShape: number[] } {
  const [n, c, h, w] = shape;
  const [oh, ow] = out;
  const avg = new Float64Array(n * c * oh * ow);
  const max = new Float64Array(avg.length);
  const argmax = new Int32Array(avg.length);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      const [h0, h1] = adaptiveRange(i, h, oh);
      for (let j = 0; j < ow; j++) {
        const [w0, w1] = adaptiveRange(j, w, ow);
        let s = 0;
        let best = -Infinity;
        let arg = -1;
        for (let r = h0; r < h1; r++) {
          for (let q = w0; q < w1; q++) {
            const v = x[(p * h + r) * w + q];
            s += v;
            if (v > best) [best, arg] = [v, r * w + q];
          }
        }
        const k = (p * oh + i) * ow + j;
        avg[k] = s / ((h1 - h0) * (w1 - w0));
        max[k] = best;
        argmax[k] = arg;
      }
    }
  }
  return { avg, max, argmax, outShape: [n, c, oh, ow] };
}

/** Backward of adaptive average pooling: each dy spread over its window / the window's size. */
export function adaptiveAvgPool2dBackwardRef(
  dy: ArrayLike<number>,
  shape: readonly number[],
  out: readonly [number, number],
): Float64Array {
  const [n, c, h, w] = shape;
  const [oh, ow] = out;
  const dx = new Float64Array(n * c * h * w);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      const [h0, h1] = adaptiveRange(i, h, oh);
      for (let j = 0; j < ow; j++) {
        const [w0, w1] = adaptiveRange(j, w, ow);
        const g = dy[(p * oh + i) * ow + j] / ((h1 - h0) * (w1 - w0));
        for (let r = h0; r < h1; r++) for (let q = w0; q < w1; q++) dx[(p * h + r) * w + q] += g;
      }
    }
  }
  return dx;
}
