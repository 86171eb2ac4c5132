/**
 * A suite the browser harness must report as failing: one test passes, one throws, one makes a
 * GPU validation error without throwing (tests/browser/browser_test.ts checks each outcome).
 *
 * @module
 */

import { gpuDevice } from "../../gpu.ts";
import { AssertionError } from "../assert.ts";

Deno.test("canary: passes", () => {});

Deno.test("canary: a failed assertion", () => {
  throw new AssertionError("canary assertion");
});

Deno.test("canary: a GPU validation error", () => {
  // MAP_READ may only be combined with COPY_DST: the device reports a validation error.
  gpuDevice().createBuffer({
    label: "Canary.badBuffer",
    size: 16,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE,
  });
});
