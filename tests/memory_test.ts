/**
 * A training loop's memory stays flat and each step is one submit: 1,000 steps of a small model
 * built from every kind of layer the article uses, with the pool's live-buffer count checked.
 */

import {
  Adam,
  AdaptiveMaxPool2d,
  BatchNorm2d,
  Conv2d,
  CrossEntropyLoss,
  Flatten,
  Linear,
  ReLU,
  Residual,
  Sequential,
  Tensor,
} from "../mod.ts";
import { bufferPool, flush, frameStats, gpuDevice, recordTrainStep } from "../gpu.ts";
import { assert, assertEquals } from "./assert.ts";
import "./gpu.ts";

Deno.test("1,000 training steps keep the pool's live buffers constant, one submit each", async () => {
  const model = new Sequential(
    new Conv2d(3, 4, 3, { padding: 1, seed: 1 }),
    new ReLU(),
    new BatchNorm2d(4),
    new Residual(new Sequential(new Conv2d(4, 4, 3, { padding: 1, seed: 2 }), new ReLU())),
    new AdaptiveMaxPool2d(1),
    new Flatten(),
    new Linear(4, 3, { seed: 3 }),
  );
  const optimizer = new Adam(model, { lr: 1e-3 });
  const loss = new CrossEntropyLoss();
  const batch = {
    images: Tensor.from(Array.from({ length: 2 * 3 * 5 * 5 }, (_, i) => Math.sin(i)), [2, 3, 5, 5]),
    labels: Tensor.from([0, 2], [2], { dtype: "i32" }),
  };
  let liveAfterWarmup = -1;
  for (let step = 0; step < 1000; step++) {
    const submits = frameStats.submits;
    recordTrainStep(model, batch, loss, optimizer);
    flush();
    assertEquals(frameStats.submits - submits, 1, `step ${step} submits`);
    if (step % 50 === 49) await gpuDevice().queue.onSubmittedWorkDone();
    if (step === 9) liveAfterWarmup = bufferPool.stats().live;
    if (step > 9) {
      assertEquals(bufferPool.stats().live, liveAfterWarmup, `live buffers at step ${step}`);
    }
  }
  const final = await loss.forward(model.forward(batch.images), batch.labels).read();
  assert(Number.isFinite(final[0]) && final[0] < 1.1, `loss after 1,000 steps is ${final[0]}`);
});
