/**
 * Float64 reference of the pooling kernels (max pooling, adaptive average / max pooling to 1×1,
 * shifted subsampling, channel concatenation), plain loops.
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
