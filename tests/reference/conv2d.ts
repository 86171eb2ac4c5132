/**
 * Float64 CPU reference of the conv2d kernels (NCHW, cross-correlation as PyTorch), written as
 * plain loops: the oracle the GPU kernels are tested against.
 *
 * @module
 */

/** Shape and options of one convolution. */
export interface Conv2dShape {
  /** Batch size. */
  n: number;
  /** Input channels. */
  c: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Output channels. */
  o: number;
  /** Kernel height. */
  kh: number;
  /** Kernel width. */
  kw: number;
  /** Stride (both directions). */
  stride: number;
  /** Zero padding (both directions). */
  padding: number;
}

/** Output height and width of a convolution. */
export function outputSize(s: Conv2dShape): [number, number] {
  return [
    Math.floor((s.h + 2 * s.padding - s.kh) / s.stride) + 1,
    Math.floor((s.w + 2 * s.padding - s.kw) / s.stride) + 1,
  ];
}

/**
 * Calls `fn(xIndex, yIndex, wIndex)` for every product term x·w → y of the convolution whose
 * input element lies inside the image (the padding contributes zeros).
 */
function forEachTerm(s: Conv2dShape, fn: (xi: number, yi: number, wi: number) => void): void {
  const [oh, ow] = outputSize(s);
  for (let n = 0; n < s.n; n++) {
    for (let o = 0; o < s.o; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const yi = ((n * s.o + o) * oh + oy) * ow + ox;
          for (let c = 0; c < s.c; c++) {
            for (let ky = 0; ky < s.kh; ky++) {
              const iy = oy * s.stride - s.padding + ky;
              if (iy < 0 || iy >= s.h) continue;
              for (let kx = 0; kx < s.kw; kx++) {
                const ix = ox * s.stride - s.padding + kx;
                if (ix < 0 || ix >= s.w) continue;
                const xi = ((n * s.c + c) * s.h + iy) * s.w + ix;
                const wi = ((o * s.c + c) * s.kh + ky) * s.kw + kx;
                fn(xi, yi, wi);
              }
            }
          }
        }
      }
    }
  }
}

/** y[N, O, OH, OW] = conv(x[N, C, H, W], weight[O, C, KH, KW]) + bias[O]. */
export function conv2dForwardRef(
  s: Conv2dShape,
  x: ArrayLike<number>, // x: [N, C, H, W]
  weight: ArrayLike<number>, // weight: [O, C, KH, KW]
  bias: ArrayLike<number> | null, // bias: [O]
): Float64Array {
  const [oh, ow] = outputSize(s);
  const y = new Float64Array(s.n * s.o * oh * ow);
  if (bias) {
    for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / (oh * ow)) % s.o];
  }
  forEachTerm(s, (xi, yi, wi) => y[yi] += x[xi] * weight[wi]);
  return y;
}

/** Gradients of the convolution given dy[N, O, OH, OW]: dx, dWeight and dBias (fresh arrays). */
export function conv2dBackwardRef(
  s: Conv2dShape,
  dy: ArrayLike<number>, // dy: [N, O, OH, OW]
  x: ArrayLike<number>, // x: [N, C, H, W]
  weight: ArrayLike<number>, // weight: [O, C, KH, KW]
): { dx: Float64Array; dWeight: Float64Array; dBias: Float64Array } {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  const dWeight = new Float64Array(s.o * s.c * s.kh * s.kw);
  const dBias = new Float64Array(s.o);
  forEachTerm(s, (xi, yi, wi) => {
    dx[xi] += dy[yi] * weight[wi];
    dWeight[wi] += dy[yi] * x[xi];
  });
  const [oh, ow] = outputSize(s);
  for (let i = 0; i < dy.length; i++) dBias[Math.floor(i / (oh * ow)) % s.o] += dy[i];
  return { dx, dWeight, dBias };
}
