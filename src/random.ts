/**
 * The one seeded generator everything random in hajime draws from: weight initialisation,
 * shuffling, augmentation, dropout seeds, Shake-Shake coefficients. xoshiro128** seeded through
 * splitmix32, so the same seed gives the same numbers on every platform, and its state can be
 * saved in a checkpoint and restored.
 *
 * @module
 */

function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) >>> 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [state, (z ^ (z >>> 16)) >>> 0];
}

/**
 * A seeded pseudo-random generator (xoshiro128**).
 *
 * @example
 * ```ts
 * import { Generator } from "@hajime/nn";
 * const rng = new Generator(0);
 * const u = rng.uniform(); // in [0, 1)
 * const order = rng.permutation(10);
 * console.log(u, order); // the same on every run: seed 0
 * ```
 */
export class Generator {
  #s = new Uint32Array(4);
  #spareNormal: number | null = null;

  /** Seeds the generator; any integer (taken modulo 2³²). */
  constructor(seed = 0) {
    let state = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      const [next, value] = splitmix32(state);
      state = next;
      this.#s[i] = value;
    }
  }

  /** The next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A float uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const high = this.nextU32() >>> 5; // 27 bits
    const low = this.nextU32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** A float uniform in [low, high). */
  uniformRange(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** A normally distributed float (Box–Muller). */
  normal(mean = 0, std = 1): number {
    let z = this.#spareNormal;
    if (z !== null) {
      this.#spareNormal = null;
    } else {
      let u = 0;
      while (u === 0) u = this.uniform();
      const v = this.uniform();
      const r = Math.sqrt(-2 * Math.log(u));
      z = r * Math.cos(2 * Math.PI * v);
      this.#spareNormal = r * Math.sin(2 * Math.PI * v);
    }
    return mean + std * z;
  }

  /** An integer uniform in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`Generator.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** A random permutation of 0 … n−1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
    }
    return order;
  }

  /** The state, to save in a checkpoint. */
  getState(): Uint32Array {
    return new Uint32Array([...this.#s, this.#spareNormal === null ? 0 : 1, ...spareBits(this)]);
  }

  /** Restores a state saved by `getState()`. */
  setState(state: Uint32Array): void {
    if (state.length !== 7) {
      throw new Error(`Generator.setState: expected 7 words, got ${state.length}`);
    }
    this.#s.set(state.subarray(0, 4));
    this.#spareNormal = state[4] === 1
      ? new Float64Array(new Uint32Array([state[5], state[6]]).buffer)[0]
      : null;
  }

  /** The cached second normal of Box–Muller, or null. */
  get spareNormal(): number | null {
    return this.#spareNormal;
  }
}

/** The generator layers draw from when given neither a generator nor a seed. */
const defaultGen = new Generator(0);

/**
 * The default generator (PyTorch's `torch.default_generator`): a layer built without a
 * `generator` or `seed` option draws its initial weights from it, so two `new Linear(4, 4)`
 * differ. It starts as `new Generator(0)`; `manualSeed` reseeds it.
 *
 * @example
 * ```ts
 * import { defaultGenerator } from "@hajime/nn";
 * const u = defaultGenerator().uniform();
 * console.log(u >= 0 && u < 1); // true
 * ```
 */
export function defaultGenerator(): Generator {
  return defaultGen;
}

/**
 * PyTorch's `torch.manual_seed(seed)`: reseeds the default generator in place (layers and
 * modules holding it see the new sequence) and returns it. After `manualSeed(n)` the default
 * generator gives what `new Generator(n)` gives, so a model built from it right after matches
 * the same model built with `{ seed: n }`.
 *
 * @example
 * ```ts
 * import { initGpu, Linear, manualSeed } from "@hajime/nn";
 * await initGpu();
 * manualSeed(0);
 * const a = new Linear(4, 4); // same weights as new Linear(4, 4, { seed: 0 })
 * const b = new Linear(4, 4); // different from a: the generator moved on
 * console.log((await a.weight.data.read())[0] !== (await b.weight.data.read())[0]); // true
 * ```
 */
export function manualSeed(seed: number): Generator {
  if (!Number.isSafeInteger(seed)) {
    throw new Error(`manualSeed: seed must be an integer, got ${seed}`);
  }
  defaultGen.setState(new Generator(seed).getState());
  return defaultGen;
}

function spareBits(generator: Generator): [number, number] {
  const bits = new Uint32Array(new Float64Array([generator.spareNormal ?? 0]).buffer);
  return [bits[0], bits[1]];
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
