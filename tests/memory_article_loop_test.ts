/**
 * A training loop written as the article writes it (not `fit`): zeroGrad, forward, loss,
 * `loss.backward()`, step, `await loss.item()` every step. 2,000 steps of BasicCNN (its one
 * `pool` applied twice) keep the pool's live-buffer count constant, create no GPU buffer after
 * warm-up, and keep the process's RSS flat.
 */

import { Adam, basicCnn, CrossEntropyLoss, Generator, Tensor } from "../mod.ts";
import { bufferPool } from "../gpu.ts";
import { assert, assertEquals } from "./assert.ts";
import "./gpu.ts";

Deno.test("2,000 article-loop steps: constant live buffers, no new buffers, flat RSS", async () => {
  const rng = new Generator(7);
  const model = basicCnn({ seed: 3 });
  const optimizer = new Adam(model.parameters(), { lr: 0.003 });
  const lossFunc = new CrossEntropyLoss();
  const inputs = Tensor.from(Float32Array.from({ length: 2 * 3 * 32 * 32 }, () => rng.uniform()), [
    2,
    3,
    32,
    32,
  ]);
  const labels = Tensor.from([3, 7], [2], { dtype: "i32" });
  let live = -1;
  let created = -1;
  let rssAt100 = 0;
  let runningLoss = 0;
  for (let i = 0; i < 2000; i++) {
    optimizer.zeroGrad();
    const outputs = model.forward(inputs);
    const loss = lossFunc.forward(outputs, labels);
    loss.backward();
    optimizer.step();
    runningLoss += await loss.item();
    if (i === 99) {
      live = bufferPool.stats().live;
      created = bufferPool.stats().created;
      rssAt100 = Deno.memoryUsage().rss;
    } else if (i > 99 && i % 100 === 99) {
      assertEquals(bufferPool.stats().live, live, `live buffers at step ${i + 1}`);
      assertEquals(bufferPool.stats().created, created, `buffers created by step ${i + 1}`);
    }
  }
  const rss = Deno.memoryUsage().rss;
  assert(rss < rssAt100 * 1.1, `RSS ${rss} after 2,000 steps, ${rssAt100} after 100`);
  assert(Number.isFinite(runningLoss) && runningLoss / 2000 < 2.3, "the loss falls");
});
