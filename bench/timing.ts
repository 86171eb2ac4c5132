/**
 * The timing loop the kernel benchmarks share: record `iterations` calls, wait for the GPU once,
 * repeat for `rounds`, and report seconds per call (best and median, since a software adapter on
 * a shared CPU is noisy). One `sync()` costs about 11 ms on llvmpipe, so it is amortised over the
 * iterations.
 *
 * @module
 */

import { sync } from "../gpu.ts";

/** Seconds per call of `run`, best and median over `rounds` rounds of `iterations` calls. */
export async function timeCalls(
  run: () => void,
  iterations: number,
  rounds: number,
): Promise<[best: number, median: number]> {
  run();
  await sync();
  const seconds: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) run();
    await sync();
    seconds.push((performance.now() - start) / 1000 / iterations);
  }
  seconds.sort((a, b) => a - b);
  return [seconds[0], seconds[Math.floor(rounds / 2)]];
}
