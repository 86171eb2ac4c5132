/// <reference lib="dom" />
/**
 * The page of the browser kernel tests: one of the Deno kernel test files (their float64
 * references, awkward shapes, poisoned outputs, bad-input errors) runs unchanged on the page's
 * WebGPU (Dawn in Chromium) under tests/browser/deno_test_shim.ts (`canary` is the harness's own
 * check, with tests that must fail). `?suite=matmul` picks the file, `?seed=N` fixes the tests'
 * random inputs (their HAJIME_SEED). Tuning is off, as in `deno task test` (the variants suite
 * forces each variant in turn).
 *
 * Publishes `globalThis.hajimeTests`: a promise of `{ adapter, outcomes }`, or of `{ error }`
 * when the suite could not even load.
 *
 * @module
 */

import { Autotuner, setAutotuner } from "../../gpu.ts";
import { gpuInfo, initGpu } from "../../web.ts";
import { installDenoShim, runRegistered, type TestOutcome } from "./deno_test_shim.ts";

/** The kernel test files, by suite name; imported only when picked. */
const SUITES: Record<string, () => Promise<unknown>> = {
  batch_norm: () => import("../batch_norm_test.ts"),
  canary: () => import("./canary_suite.ts"),
  conv2d: () => import("../conv2d_test.ts"),
  elementwise: () => import("../elementwise_test.ts"),
  image: () => import("../image_test.ts"),
  loss: () => import("../loss_test.ts"),
  matmul: () => import("../matmul_test.ts"),
  ops_relu_fusion: () => import("../ops_relu_fusion_test.ts"),
  optim: () => import("../optim_test.ts"),
  pool: () => import("../pool_test.ts"),
  variants: () => import("../variants_test.ts"),
};

/** What the page publishes. */
export type SuiteReport = { adapter: string; outcomes: TestOutcome[] } | { error: string };

async function runSuite(params: URLSearchParams): Promise<SuiteReport> {
  const suite = params.get("suite") ?? "";
  const load = SUITES[suite];
  if (!load) return { error: `unknown suite "${suite}"; known: ${Object.keys(SUITES).join(", ")}` };
  try {
    const seed = params.get("seed");
    installDenoShim(seed === null ? {} : { HAJIME_SEED: seed });
    await initGpu();
    setAutotuner(new Autotuner({ enabled: false, cacheFile: null }));
    await load();
  } catch (error) {
    return { error: `suite ${suite} did not load: ${(error as Error).stack ?? error}` };
  }
  const outcomes = await runRegistered((o) =>
    console.log(`${o.status} ${o.name} (${o.ms.toFixed(0)} ms)${o.error ? `\n${o.error}` : ""}`)
  );
  return { adapter: gpuInfo().description, outcomes };
}

(globalThis as { hajimeTests?: Promise<SuiteReport> }).hajimeTests = runSuite(
  new URLSearchParams(location.search),
);
