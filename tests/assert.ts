/**
 * Small assertion helpers for Deno.test (JSR's @std/assert cannot be reached from our machines).
 *
 * @module
 */

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/** Throws unless `condition` holds. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Deep equality through JSON-like structure (arrays, typed arrays, plain objects, primitives). */
export function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  const a = normalise(actual);
  const e = normalise(expected);
  const as = JSON.stringify(a);
  const es = JSON.stringify(e);
  if (as !== es) {
    throw new AssertionError(
      `${message ? message + ": " : ""}expected ${clip(es)}, got ${clip(as)}`,
    );
  }
}

function normalise(value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(
      value as unknown as ArrayLike<number | bigint>,
      (v) => typeof v === "bigint" ? v.toString() : Number.isNaN(v) ? "NaN" : v,
    );
  }
  if (Array.isArray(value)) return value.map(normalise);
  if (value instanceof Map) {
    return { map: [...value.entries()].map(([k, v]) => [normalise(k), normalise(v)]) };
  }
  if (value instanceof Set) return { set: [...value].map(normalise) };
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = normalise((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  if (typeof value === "number" && Number.isNaN(value)) return "NaN";
  return value;
}

function clip(text: string): string {
  return text.length > 400 ? text.slice(0, 400) + "…" : text;
}

/**
 * Elementwise closeness: |a − e| ≤ atol + rtol·|e| for every element, and no NaN in `actual`.
 * Reports the worst element.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4, message = "" }: { atol?: number; rtol?: number; message?: string } =
    {},
): void {
  const prefix = message ? message + ": " : "";
  if (actual.length !== expected.length) {
    throw new AssertionError(`${prefix}length ${actual.length} ≠ expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!Number.isFinite(a) && a !== e) {
      throw new AssertionError(`${prefix}element ${i} is ${a}, expected ${e}`);
    }
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    throw new AssertionError(
      `${prefix}element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(atol ${atol}, rtol ${rtol})`,
    );
  }
}

/** Throws unless `fn` throws an error whose message includes `includes`. Returns the error. */
export function assertThrows(fn: () => unknown, includes = ""): Error {
  try {
    fn();
  } catch (error) {
    const e = error as Error;
    if (!String(e?.message).includes(includes)) {
      throw new AssertionError(`expected an error including "${includes}", got "${e?.message}"`);
    }
    return e;
  }
  throw new AssertionError(`expected an error including "${includes}", none was thrown`);
}

/** Async version of assertThrows. */
export async function assertRejects(fn: () => Promise<unknown>, includes = ""): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    const e = error as Error;
    if (!String(e?.message).includes(includes)) {
      throw new AssertionError(`expected an error including "${includes}", got "${e?.message}"`);
    }
    return e;
  }
  throw new AssertionError(`expected a rejection including "${includes}", none came`);
}

/** Random floats uniform in [lo, hi) from a seeded generator (for fresh test inputs). */
export function randomArray(
  rng: { uniform(): number },
  n: number,
  lo = -1,
  hi = 1,
): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.uniform();
  return out;
}

/** A seed for fresh random inputs: printed so a failure can be reproduced with HAJIME_SEED. */
export function testSeed(name: string): number {
  const fixed = Deno.env.get("HAJIME_SEED");
  const seed = fixed !== undefined ? Number(fixed) : (Math.random() * 2 ** 31) >>> 0;
  if (fixed === undefined) console.log(`${name}: seed ${seed} (rerun with HAJIME_SEED=${seed})`);
  return seed;
}
