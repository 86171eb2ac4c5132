/**
 * The trainer and the LR finder on tiny models and synthetic data: one submit per step, the
 * article's log lines (checked against losses read step by step), loss going down, NaN detection
 * naming epoch and step, evaluation in eval mode with the modes restored, the article's validation
 * loss, and an LR sweep that leaves model and optimizer as they were.
 *
 * @module
 */

import { frameStats } from "../gpu.ts";
import { Generator, Tensor } from "../mod.ts";
import type { Batch } from "../src/data/loader.ts";
import { Flatten, Sequential } from "../src/nn/containers.ts";
import { BatchNorm2d } from "../src/nn/batch_norm2d.ts";
import { Linear } from "../src/nn/linear.ts";
import { CrossEntropyLoss } from "../src/nn/loss.ts";
import type { Module } from "../src/nn/module.ts";
import { ReLU } from "../src/nn/activation.ts";
import { Adam } from "../src/optim/adam.ts";
import { findLr } from "../src/optim/lr_finder.ts";
import { SGD } from "../src/optim/sgd.ts";
import {
  accuracy,
  argmaxRows,
  confusionMatrix,
  formatFixed,
  perClassAccuracy,
} from "../src/train/metrics.ts";
import { evaluate, fit, formatEvaluation, type StepInfo } from "../src/train/trainer.ts";
import {
  assert,
  assertClose,
  assertEquals,
  assertRejects,
  assertThrows,
  testSeed,
} from "./assert.ts";
import "./gpu.ts";

const CLASSES = 3;

/** A model's state dict as comparable rows: name, shape and the values' bit patterns. */
async function weights(model: Module): Promise<[string, number[], Uint32Array][]> {
  return [...await model.stateDict()].map(([name, { shape, data }]) => [
    name,
    shape,
    new Uint32Array(data.buffer, data.byteOffset, data.length),
  ]);
}
const SHAPE = [3, 4, 4];
const FEATURES = 48;

/** Batches of a 3-class problem: a fixed pattern per class plus noise. */
function syntheticBatches(rng: Generator, sizes: number[]): Batch[] {
  const patterns = Array.from(
    { length: CLASSES },
    (_, k) => Array.from({ length: FEATURES }, (_, j) => Math.sin(1 + k * 7.1 + j * 1.3)),
  );
  return sizes.map((n) => {
    const labels = Int32Array.from({ length: n }, () => rng.int(CLASSES));
    const images = new Float32Array(n * FEATURES);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < FEATURES; j++) {
        images[i * FEATURES + j] = patterns[labels[i]][j] + 0.5 * rng.normal();
      }
    }
    return {
      images: Tensor.from(images, [n, ...SHAPE], { label: "Test.images" }),
      labels: Tensor.from(labels, [n], { dtype: "i32", label: "Test.labels" }),
    };
  });
}

function mlp(seed: number): Module {
  return new Sequential(
    new Flatten(),
    new Linear(FEATURES, 16, { seed }),
    new ReLU(),
    new Linear(16, CLASSES, { seed: seed + 1 }),
  );
}

function bnNet(seed: number): Sequential {
  return new Sequential(
    new BatchNorm2d(3),
    new Flatten(),
    new Linear(FEATURES, 16, { seed }),
    new ReLU(),
    new Linear(16, CLASSES, { seed: seed + 1 }),
  );
}

Deno.test("fit: one submit per step, the article's log lines, the loss goes down", async () => {
  const rng = new Generator(testSeed("fit"));
  const data = syntheticBatches(rng, [16, 16, 16, 16, 16, 16]);
  const model = mlp(3);
  const lines: string[] = [];
  const steps: (StepInfo & { submits: number })[] = [];
  const result = await fit(model, data, {
    optimizer: new Adam(model, { lr: 0.01 }),
    epochs: 3,
    logEvery: 2,
    log: (line) => lines.push(line),
    onStep: (info) => void steps.push({ ...info, submits: frameStats.submits }),
  });
  assertEquals(result.trainState, { epoch: 3, step: 0, globalStep: 18 });
  assertEquals(steps.map((s) => s.globalStep), Array.from({ length: 18 }, (_, i) => i + 1));
  for (let i = 1; i < steps.length; i++) {
    if (steps[i].epoch === steps[i - 1].epoch) {
      assertEquals(
        steps[i].submits - steps[i - 1].submits,
        1,
        `submits for step ${steps[i].globalStep}`,
      );
    }
  }
  assertEquals(lines.length, 9);
  for (const line of lines) assert(/^epoch:[1-3], step:[246], loss:\d+\.\d{4}$/.test(line), line);
  assertEquals(lines[0].slice(0, 15), "epoch:1, step:2");
  const first = result.history[0].loss;
  const last = result.history[result.history.length - 1].loss;
  assert(last < 0.5 * first, `loss went from ${first} to ${last}`);
  assertEquals(result.epochs.map((e) => e.steps), [6, 6, 6]);

  // The same run step by step, reading every loss: the logged means are exactly theirs.
  const lossFn = new CrossEntropyLoss();
  const recorded: number[] = [];
  const again = mlp(3);
  const optimizer2 = new Adam(again, { lr: 0.01 });
  for (let epoch = 0; epoch < 3; epoch++) {
    for (const batch of data) {
      again.zeroGrad();
      const loss = lossFn.forward(again.forward(batch.images), batch.labels);
      const value = (await loss.read())[0];
      loss.backward();
      optimizer2.step();
      recorded.push(value);
    }
  }
  const means = result.history.map((h) => h.loss);
  const expected = [];
  for (let i = 0; i < recorded.length; i += 2) expected.push((recorded[i] + recorded[i + 1]) / 2);
  assertEquals(means, expected);
});

/** A source whose `bad`-th batch of epoch `badEpoch` (1-based) holds NaN images. */
function poisonedSource(data: Batch[], badEpoch: number, badStep: number): AsyncIterable<Batch> {
  let epoch = 0;
  const nan = Tensor.full(data[0].images.shape, NaN, { label: "Test.nan" });
  return {
    async *[Symbol.asyncIterator]() {
      epoch++;
      for (let i = 0; i < data.length; i++) {
        yield epoch === badEpoch && i + 1 === badStep ? { ...data[i], images: nan } : data[i];
      }
    },
  };
}

Deno.test("a NaN loss stops training with an error naming the epoch and step", async () => {
  const data = syntheticBatches(new Generator(5), [8, 8, 8, 8, 8]);
  for (const logEvery of [2, 100]) {
    const model = mlp(7);
    const error = await assertRejects(
      () =>
        fit(model, poisonedSource(data, 2, 3), {
          optimizer: new SGD(model, { lr: 0.1 }),
          epochs: 3,
          logEvery,
          log: null,
        }),
      "epoch 2, step 3 (global step 8)",
    );
    assert(error.message.includes("NaN"), error.message);
    assert(model.training, "modes restored after the error");
  }
});

Deno.test("evaluate runs in eval mode, restores every module's mode, and counts as the article", async () => {
  const rng = new Generator(testSeed("evaluate"));
  const train = syntheticBatches(rng, [16, 16, 16, 16]);
  const test = syntheticBatches(rng, [16, 16, 16, 5]); // a partial last batch, as 10000/32
  const model = bnNet(11);
  await fit(model, train, { optimizer: new Adam(model, { lr: 0.01 }), epochs: 2, log: null });

  model.train();
  const fromTrain = await evaluate(model, test);
  assert(model.namedModules().every(([, m]) => m.training), "training mode restored");
  model.eval();
  const fromEval = await evaluate(model, test);
  assert(model.namedModules().every(([, m]) => !m.training), "eval mode kept");
  assertEquals(fromTrain, fromEval);
  model.train();
  const bn = model.at(0);
  bn.eval();
  await evaluate(model, test);
  assert(model.training && !bn.training && model.at(2).training, "mixed modes restored");

  // The same numbers by hand, in eval mode.
  model.eval();
  const lossFn = new CrossEntropyLoss();
  let correct = 0;
  let lossSum = 0;
  const matrix = Array.from({ length: CLASSES }, () => new Array(CLASSES).fill(0));
  for (const batch of test) {
    const logits = model.forward(batch.images);
    const predictions = argmaxRows(await logits.read(), CLASSES);
    const labels = await batch.labels.read();
    lossSum += (await lossFn.forward(logits, batch.labels).read())[0];
    predictions.forEach((p, i) => {
      matrix[labels[i]][p]++;
      if (p === labels[i]) correct++;
    });
  }
  model.train();
  assertEquals([fromEval.correct, fromEval.total], [correct, 53]);
  assertEquals(fromEval.accuracy, correct / 53);
  assertClose([fromEval.loss], [lossSum / (53 / 16)], { atol: 1e-7, rtol: 1e-6 });
  assertEquals(fromEval.confusion, matrix);
  assertEquals(
    fromEval.perClassAccuracy,
    matrix.map((row, k) => row[k] / row.reduce((a, b) => a + b, 0)),
  );
  assert(fromEval.accuracy > 0.6, `a trained model beats chance (${fromEval.accuracy})`);

  // In train mode BatchNorm would have used batch statistics: the outputs differ.
  const trainLogits = await model.forward(test[0].images).read();
  model.eval();
  const evalLogits = await model.forward(test[0].images).read();
  model.train();
  assert(trainLogits.some((v, i) => v !== evalLogits[i]), "train and eval outputs differ");

  const lines = formatEvaluation({ ...fromEval, correct: 6582, total: 10000, loss: 0.98765 });
  assertEquals(lines, ["Accuracy on 10000 test image: 65 %", "Validation loss:0.9877"]);
});

Deno.test("fit validates at each epoch end and stops at maxSteps", async () => {
  const rng = new Generator(13);
  const data = syntheticBatches(rng, [8, 8, 8]);
  const model = bnNet(2);
  const reports: number[] = [];
  const result = await fit(model, data, {
    optimizer: new Adam(model, { lr: 0.01 }),
    epochs: 2,
    log: null,
    validation: data,
    onEpochEnd: (info) => void reports.push(info.validation!.total),
  });
  assertEquals(reports, [24, 24]);
  assert(result.epochs.every((e) => Number.isFinite(e.trainLoss)));
  const stopped = await fit(model, data, {
    optimizer: new Adam(model),
    epochs: 5,
    log: null,
    maxSteps: 4,
  });
  assertEquals(stopped.trainState, { epoch: 1, step: 1, globalStep: 4 });
});

Deno.test("fit stops at timeLimit: after the step it ran out in, or before the next epoch", async () => {
  const rng = new Generator(testSeed("fit timeLimit"));
  const data = syntheticBatches(rng, [8, 8, 8]);
  const model = bnNet(3);
  const optimizer = new Adam(model, { lr: 0.01 });
  const full = await fit(model, data, { optimizer, epochs: 2, log: null, timeLimit: 600 });
  assertEquals([full.stoppedBy, full.trainState.globalStep, full.epochs.length], [null, 6, 2]);
  const capped = await fit(model, data, { optimizer, epochs: 2, log: null, maxSteps: 4 });
  assertEquals(capped.stoppedBy, "maxSteps");

  // A limit shorter than any step: the first step runs, then training stops within the epoch.
  const first = await fit(model, data, {
    optimizer,
    epochs: 3,
    log: null,
    validation: data,
    timeLimit: 1e-6,
  });
  assertEquals(first.stoppedBy, "timeLimit");
  assertEquals(first.trainState, { epoch: 0, step: 1, globalStep: 1 });
  assertEquals(first.epochs, [], "no epoch ended, none was validated");

  // The time runs out during the first epoch's end: the second epoch never starts.
  const limit = 3;
  const started = performance.now();
  const atEnd = await fit(model, data, {
    optimizer,
    epochs: 3,
    log: null,
    timeLimit: limit,
    onEpochEnd: async () => {
      const left = started + limit * 1000 - performance.now();
      await new Promise((done) => setTimeout(done, Math.max(0, left) + 50));
    },
  });
  assertEquals(atEnd.stoppedBy, "timeLimit");
  assertEquals(atEnd.trainState, { epoch: 1, step: 0, globalStep: 3 });
  assertEquals(atEnd.epochs.length, 1);

  for (const bad of [0, -1, NaN]) {
    const error = await assertRejects(
      () => fit(model, data, { optimizer, log: null, timeLimit: bad }),
      "timeLimit must be a number of seconds > 0",
    );
    assert(error instanceof RangeError, String(error));
  }
});

Deno.test("findLr sweeps increasing rates, suggests one inside them, restores everything", async () => {
  const rng = new Generator(testSeed("findLr"));
  const data = syntheticBatches(rng, [16, 16, 16, 16]);
  const model = bnNet(17);
  const optimizer = new Adam(model, { lr: 0.003 });
  await fit(model, data, { optimizer, epochs: 1, log: null }); // some optimizer state to keep
  model.eval();
  const before = await weights(model);
  const state = await optimizer.stateDict();
  const result = await findLr(model, data, {
    optimizer,
    steps: 60,
    startLr: 1e-5,
    endLr: 10,
    checkEvery: 10,
  });
  assert(result.lrs.length >= 10 && result.lrs.length === result.losses.length);
  assertClose([result.lrs[0]], [1e-5], { atol: 0, rtol: 1e-12 });
  for (let i = 1; i < result.lrs.length; i++) {
    assert(result.lrs[i] > result.lrs[i - 1], "increasing");
  }
  assert(
    result.suggestedLr >= result.lrs[0] && result.suggestedLr <= result.lrs[result.lrs.length - 1],
    `suggestion ${result.suggestedLr} inside the sweep`,
  );
  assert(result.minLossLr >= 1e-5 && result.minLossLr <= 10);
  assertEquals(await weights(model), before);
  const after = await optimizer.stateDict();
  assertEquals(after.groups, state.groups);
  assertEquals([...after.tensors.keys()], [...state.tensors.keys()]);
  for (const [key, entry] of state.tensors) {
    assertEquals(after.tensors.get(key)!.data, entry.data, key);
  }
  assertEquals(optimizer.lr, 0.003);
  assert(model.namedModules().every(([, m]) => !m.training), "modes restored");
});

Deno.test("metrics: argmax ties, confusion matrix, per-class accuracy, Python's {:.4f}", () => {
  assertEquals(argmaxRows([1, 3, 3, NaN, 0, -1], 3), new Int32Array([1, 1]));
  assertEquals(accuracy([0, 1, 2, 2], [0, 1, 1, 2]), 0.75);
  const matrix = confusionMatrix([0, 1, 1, 2], [0, 1, 2, 2], 3);
  assertEquals(matrix, [[1, 0, 0], [0, 1, 0], [0, 1, 1]]);
  assertEquals(perClassAccuracy([[1, 0], [0, 0]]), [1, NaN]);
  assertThrows(() => confusionMatrix([3], [0], 3), "prediction 3");
  assertThrows(() => accuracy([1], [1, 2]), "labels has 2");
  // Python: '{:.4f}'.format(x) for each x below.
  const cases: [number, string][] = [
    [2.32219, "2.3222"],
    [0.03125, "0.0312"],
    [0.09375, "0.0938"],
    [-0.03125, "-0.0312"],
    [-0, "-0.0000"],
    [1e-5, "0.0000"],
    [0.00015, "0.0001"],
    [NaN, "nan"],
    [-Infinity, "-inf"],
  ];
  for (const [value, text] of cases) assertEquals(formatFixed(value, 4), text, String(value));
  assertEquals([formatFixed(2.5, 0), formatFixed(3.5, 0), formatFixed(0.125, 2)], [
    "2",
    "4",
    "0.12",
  ]);
});
