/**
 * A training loop written as the article writes it (not `fit`): zeroGrad, forward, loss,
 * `loss.backward()`, step, `await loss.item()` every step. 2,000 steps of BasicCNN (its one
 * `pool` applied twice) keep the pool's live-buffer count constant, create no GPU buffer after
 * warm-up, and keep the process's RSS within 10 % of its size after 100 steps.
 *
 * The loop runs in a process of its own (RSS is per process, and `deno test --parallel` runs
 * other files in this one): run as a script, the file trains and prints one JSON line of figures.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { Adam, basicCnn, CrossEntropyLoss, Generator, Tensor } from "../mod.ts";
import { bufferPool } from "../gpu.ts";
import { assert, assertEquals } from "./assert.ts";

const STEPS = 2000;

/** What the loop reports every 100 steps. */
interface Report {
  rss: number[];
  live: number[];
  created: number[];
  meanLoss: number;
}

async function articleLoop(): Promise<Report> {
  const rng = new Generator(7);
  const model = basicCnn({ seed: 3 });
  const optimizer = new Adam(model.parameters(), { lr: 0.003 });
  const lossFunc = new CrossEntropyLoss();
  const inputs = Tensor.from(
    Float32Array.from({ length: 2 * 3 * 32 * 32 }, () => rng.uniform()),
    [2, 3, 32, 32],
  );
  const labels = Tensor.from([3, 7], [2], { dtype: "i32" });
  const gc = (globalThis as { gc?: () => void }).gc;
  const report: Report = { rss: [], live: [], created: [], meanLoss: 0 };
  let runningLoss = 0;
  for (let i = 0; i < STEPS; i++) {
    optimizer.zeroGrad();
    const outputs = model.forward(inputs);
    const loss = lossFunc.forward(outputs, labels);
    loss.backward();
    optimizer.step();
    runningLoss += await loss.item();
    if (i % 100 === 99) {
      gc?.();
      report.rss.push(Deno.memoryUsage().rss);
      report.live.push(bufferPool.stats().live);
      report.created.push(bufferPool.stats().created);
    }
  }
  report.meanLoss = runningLoss / STEPS;
  return report;
}

if (import.meta.main) {
  await (await import("../mod.ts")).initGpu();
  console.log(JSON.stringify(await articleLoop()));
}

Deno.test("2,000 article-loop steps: constant live buffers, no new buffers, flat RSS", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    // As in tests/memory_test.ts: V8's young generation starts at the size it grows to.
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc,--min-semi-space-size=16",
      fileURLToPath(import.meta.url),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(output.success, `the training process failed: ${new TextDecoder().decode(output.stderr)}`);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  const report: Report = JSON.parse(lines[lines.length - 1]);
  const mb = report.rss.map((bytes) => Math.round(bytes / 2 ** 20));
  console.log(`RSS MB every 100 steps: ${mb.join(" ")}`);
  assertEquals(new Set(report.live).size, 1, `live buffers ${report.live}`);
  assertEquals(new Set(report.created).size, 1, `buffers created ${report.created}`);
  const [first, last] = [report.rss[0], report.rss[report.rss.length - 1]];
  assert(last <= first * 1.1, `RSS ${mb.at(-1)} MB after ${STEPS} steps, ${mb[0]} MB after 100`);
  assert(Number.isFinite(report.meanLoss) && report.meanLoss < 2.3, "the loss falls");
});
