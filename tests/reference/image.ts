/**
 * Float64 CPU references of the image kernels (src/kernels/image.ts): plain loops over row-major
 * NHWC bytes and NCHW floats.
 *
 * @module
 */

/** (pixel/255 − mean[c]) / std[c], from images [N, H, W, C] to [N, C, H, W]. */
export function imagesToTensor(
  images: ArrayLike<number>,
  [n, h, w, c]: readonly number[],
  mean: readonly number[],
  std: readonly number[],
): Float64Array {
  const y = new Float64Array(n * c * h * w);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const pixel = images[((b * h + i) * w + j) * c + ch];
          y[((b * c + ch) * h + i) * w + j] = (pixel / 255 - mean[ch]) / std[ch];
        }
      }
    }
  }
  return y;
}

/** Zero-padded crop at (offsetY, offsetX) then optional horizontal flip, per image of x [N, C, H, W]. */
export function randomCropFlip(
  x: ArrayLike<number>,
  [n, c, h, w]: readonly number[],
  crops: ArrayLike<number>,
  padding: number,
): Float64Array {
  const y = new Float64Array(n * c * h * w);
  for (let b = 0; b < n; b++) {
    const [oy, ox, flip] = [crops[b * 3], crops[b * 3 + 1], crops[b * 3 + 2]];
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          // Crop first: cropped[i][jc] = padded[i + oy][jc + ox]; the flip then mirrors columns.
          const jc = flip ? w - 1 - j : j;
          const si = i + oy - padding;
          const sj = jc + ox - padding;
          const inside = si >= 0 && si < h && sj >= 0 && sj < w;
          y[((b * c + ch) * h + i) * w + j] = inside ? x[((b * c + ch) * h + si) * w + sj] : 0;
        }
      }
    }
  }
  return y;
}

/**
 * ToTensor + Normalize, then the zero-padded crop at (offsetY, offsetX) and optional horizontal
 * flip, straight from images [N, H, W, C] to [N, C, H, W]; `crops` null means none. The padding
 * is zero after normalisation. Written out on its own (not as the two references in turn) so the
 * tests can also check it against their composition.
 */
export function augmentImages(
  images: ArrayLike<number>,
  [n, h, w, c]: readonly number[],
  crops: ArrayLike<number> | null,
  padding: number,
  mean: readonly number[],
  std: readonly number[],
): Float64Array {
  const y = new Float64Array(n * c * h * w);
  for (let b = 0; b < n; b++) {
    const [oy, ox, flip] = crops ? [crops[b * 3], crops[b * 3 + 1], crops[b * 3 + 2]] : [0, 0, 0];
    const shift = crops ? padding : 0;
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const si = i + oy - shift;
          const sj = (flip ? w - 1 - j : j) + ox - shift;
          const inside = si >= 0 && si < h && sj >= 0 && sj < w;
          const pixel = images[((b * h + si) * w + sj) * c + ch];
          y[((b * c + ch) * h + i) * w + j] = inside ? (pixel / 255 - mean[ch]) / std[ch] : 0;
        }
      }
    }
  }
  return y;
}

/** Cutout on a copy of x [N, C, H, W]: zero a size×size square from centre − ⌊size/2⌋, clipped. */
export function cutout(
  x: ArrayLike<number>,
  [n, c, h, w]: readonly number[],
  centers: ArrayLike<number>,
  size: number,
): Float64Array {
  const y = Float64Array.from(x);
  for (let b = 0; b < n; b++) {
    const top = centers[b * 2] - Math.floor(size / 2);
    const left = centers[b * 2 + 1] - Math.floor(size / 2);
    for (let ch = 0; ch < c; ch++) {
      for (let i = Math.max(0, top); i < Math.min(h, top + size); i++) {
        for (let j = Math.max(0, left); j < Math.min(w, left + size); j++) {
          y[((b * c + ch) * h + i) * w + j] = 0;
        }
      }
    }
  }
  return y;
}
