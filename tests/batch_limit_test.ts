/**
 * largestBatch: the batch it names is the largest whose every bound buffer fits the limit, as a
 * real training step at that batch (and one image more) binds them.
 *
 * @module
 */

import { createModel, CrossEntropyLoss, largestBatch, Tensor } from "../mod.ts";
import { flush, observeBindings } from "../gpu.ts";
import { assert, assertEquals } from "./assert.ts";
import "./gpu.ts";

/** The largest buffer a forward, loss and backward of `name` on `n` images binds. */
function largestBound(name: string, n: number): number {
  const model = createModel(name);
  const images = Tensor.zeros([n, 3, 32, 32]);
  const labels = Tensor.zeros([n], { dtype: "i32" });
  let largest = 0;
  const stop = observeBindings((bound) => {
    largest = Math.max(largest, ("buffer" in bound ? bound.buffer : bound).size);
  });
  try {
    new CrossEntropyLoss().forward(model.forward(images), labels).backward();
    flush();
  } finally {
    stop();
    for (const t of [images, labels]) t.dispose();
    model.dispose();
  }
  return largest;
}

Deno.test("largestBatch: the largest batch binds within the limit, one image more does not", async () => {
  const limitBytes = 3 * 2 ** 20;
  for (const name of ["basic-cnn", "conv-bn-net"]) {
    const found = await largestBatch(() => createModel(name), { limitBytes });
    assertEquals(found.limitBytes, limitBytes);
    assert(found.largest >= 2 && found.largest < 1000, `${name}: ${JSON.stringify(found)}`);
    assert(found.label !== "" && found.bytesPerImage > 0, JSON.stringify(found));
    const at = largestBound(name, found.largest);
    const past = largestBound(name, found.largest + 1);
    assert(at <= limitBytes, `${name} at ${found.largest}: a ${at}-byte buffer`);
    assert(past > limitBytes, `${name} at ${found.largest + 1}: at most ${past} bytes`);
  }
  // The adapter's own limit by default: CIFAR batches of the article fit.
  const adapter = await largestBatch(() => createModel("basic-cnn"));
  assert(adapter.largest >= 32 && adapter.limitBytes >= 2 ** 27, JSON.stringify(adapter));
});
