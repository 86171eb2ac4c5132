/**
 * Checkpoints: the safetensors codec for every dtype, a file laid out byte for byte as PyTorch's
 * `safetensors.torch.save_file` writes it, strict loading that names every bad tensor and changes
 * nothing (but takes a missing `num_batches_tracked` as 0, as PyTorch), a bit-exact round trip of
 * model, optimizer and generator state, a resumed run that ends with exactly the weights of an
 * uninterrupted one, the checksum that catches an edited file, and fit's checkpoint path checks.
 *
 * @module
 */

import { Generator, Tensor } from "../mod.ts";
import type { Batch } from "../src/data/loader.ts";
import { ReLU } from "../src/nn/activation.ts";
import { BatchNorm2d } from "../src/nn/batch_norm2d.ts";
import { Flatten, Sequential } from "../src/nn/containers.ts";
import { Conv2d } from "../src/nn/conv2d.ts";
import { Linear } from "../src/nn/linear.ts";
import type { Module } from "../src/nn/module.ts";
import { AdaptiveAvgPool2d } from "../src/nn/pooling.ts";
import { Adam } from "../src/optim/adam.ts";
import { cosineAnnealing } from "../src/optim/schedules.ts";
import { SGD } from "../src/optim/sgd.ts";
import {
  CHECKSUM_KEY,
  decodeSafetensors,
  encodeSafetensors,
  loadModelWeights,
  readSafetensors,
  removeStaleTemporaries,
  restoreCheckpoint,
  type SafeTensor,
  saveCheckpoint,
  saveModelWeights,
  toFloat32,
} from "../src/train/checkpoint.ts";
import { fit, type LogInfo } from "../src/train/trainer.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
  randomArray,
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

function net(seed: number): Sequential {
  return new Sequential(
    new Conv2d(3, 4, 3, { padding: 1, seed }),
    new BatchNorm2d(4),
    new ReLU(),
    new AdaptiveAvgPool2d(1),
    new Flatten(),
    new Linear(4, CLASSES, { seed: seed + 1 }),
  );
}

function batches(rng: Generator, count: number, n: number): Batch[] {
  return Array.from({ length: count }, () => {
    const labels = Int32Array.from({ length: n }, () => rng.int(CLASSES));
    const images = Float32Array.from(randomArray(rng, n * 48));
    for (let i = 0; i < n; i++) images[i * 48 + labels[i]] += 2; // something to learn
    return {
      images: Tensor.from(images, [n, 3, 4, 4]),
      labels: Tensor.from(labels, [n], { dtype: "i32" }),
    };
  });
}

/** A loader that shuffles with `rng` every epoch (drawn when the epoch's iteration starts). */
function shuffled(data: Batch[], rng: Generator): AsyncIterable<Batch> & { length: number } {
  return {
    length: data.length,
    async *[Symbol.asyncIterator]() {
      for (const i of rng.permutation(data.length)) yield data[i];
    },
  };
}

Deno.test("safetensors round trip for every dtype, header padded to 8 bytes", () => {
  const tensors = new Map<string, SafeTensor>([
    ["f32", {
      dtype: "F32",
      shape: [2, 3],
      data: new Float32Array([1, -2, 3.5, NaN, Infinity, 0]),
    }],
    ["f64", { dtype: "F64", shape: [2], data: new Float64Array([Math.PI, -1e300]) }],
    ["f16", { dtype: "F16", shape: [2], data: new Uint16Array([0x3e00, 0xc000]) }],
    ["bf16", { dtype: "BF16", shape: [1], data: new Uint16Array([0x3fc0]) }],
    ["i64", { dtype: "I64", shape: [], data: new BigInt64Array([-5n]) }],
    ["u64", { dtype: "U64", shape: [1], data: new BigUint64Array([2n ** 60n]) }],
    ["i32", { dtype: "I32", shape: [3], data: new Int32Array([-1, 0, 7]) }],
    ["u32", { dtype: "U32", shape: [1], data: new Uint32Array([4e9]) }],
    ["i16", { dtype: "I16", shape: [1], data: new Int16Array([-300]) }],
    ["u16", { dtype: "U16", shape: [1], data: new Uint16Array([60000]) }],
    ["i8", { dtype: "I8", shape: [1], data: new Int8Array([-7]) }],
    ["u8", { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 255]) }],
    ["bool", { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) }],
    ["empty", { dtype: "F32", shape: [0, 4], data: new Float32Array(0) }],
  ]);
  const bytes = encodeSafetensors(tensors, { format: "pt", note: "é" });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals(headerLength % 8, 0);
  const back = decodeSafetensors(bytes);
  assertEquals(back.metadata, { format: "pt", note: "é" });
  assertEquals([...back.tensors.keys()], [...tensors.keys()]);
  for (const [name, t] of tensors) {
    const got = back.tensors.get(name)!;
    assertEquals([got.dtype, got.shape, got.data.constructor.name], [
      t.dtype,
      t.shape,
      t.data.constructor.name,
    ], name);
    assertEquals(got.data, t.data, name);
  }
  assertEquals(toFloat32(back.tensors.get("f16")!), new Float32Array([1.5, -2]));
  assertEquals(toFloat32(back.tensors.get("bf16")!), new Float32Array([1.5]));
  assertEquals(toFloat32(back.tensors.get("i64")!), new Float32Array([-5]));
  assertThrows(() => decodeSafetensors(bytes.subarray(0, bytes.length - 1)), '"');
  assertThrows(() => decodeSafetensors(new Uint8Array(4)), "too short");
  assertThrows(
    () =>
      encodeSafetensors(new Map([["x", { dtype: "F32", shape: [3], data: new Float32Array(2) }]])),
    '"x"',
  );
});

/** Bytes exactly as `safetensors.torch.save_file(state_dict)` lays them out. */
function pytorchFile(entries: [string, "F32" | "I64", number[], ArrayBufferView][]): Uint8Array {
  // save_file orders tensors by dtype (I64 before F32), then by name; "__metadata__" comes first.
  const sorted = [...entries].sort((a, b) =>
    a[1] !== b[1] ? (a[1] === "I64" ? -1 : 1) : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0
  );
  let offset = 0;
  const parts = sorted.map(([name, dtype, shape, data]) => {
    const text = `"${name}":{"dtype":"${dtype}","shape":[${
      shape.join(",")
    }],"data_offsets":[${offset},${offset + data.byteLength}]}`;
    offset += data.byteLength;
    return text;
  });
  let header = `{"__metadata__":{"format":"pt"},${parts.join(",")}}`;
  header += " ".repeat((8 - header.length % 8) % 8);
  const out = new Uint8Array(8 + header.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(new TextEncoder().encode(header), 8);
  let at = 8 + header.length;
  for (const [, , , data] of sorted) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

/** The entries of net()'s PyTorch state_dict with random values (num_batches_tracked = 7). */
function pytorchEntries(rng: Generator): [string, "F32" | "I64", number[], ArrayBufferView][] {
  const f = (name: string, shape: number[]): [string, "F32", number[], Float32Array] => [
    name,
    "F32",
    shape,
    Float32Array.from(randomArray(rng, shape.reduce((a, b) => a * b, 1))),
  ];
  return [
    f("0.weight", [4, 3, 3, 3]),
    f("0.bias", [4]),
    f("1.weight", [4]),
    f("1.bias", [4]),
    f("1.running_mean", [4]),
    f("1.running_var", [4]),
    ["1.num_batches_tracked", "I64", [], new BigInt64Array([7n])],
    f("5.weight", [3, 4]),
    f("5.bias", [3]),
  ];
}

Deno.test("a state_dict saved by PyTorch's safetensors loads directly; ours loads back in PyTorch's layout", async () => {
  const dir = await Deno.makeTempDir();
  const entries = pytorchEntries(new Generator(testSeed("pytorch layout")));
  const path = `${dir}/torch.safetensors`;
  await Deno.writeFile(path, pytorchFile(entries));
  const model = net(1);
  await loadModelWeights(path, model);
  const state = await model.stateDict();
  assertEquals([...state.keys()], entries.map(([name]) => name));
  for (const [name, , shape, data] of entries) {
    const expected = data instanceof BigInt64Array ? new Float32Array([7]) : data;
    assertEquals(state.get(name)!.data, expected, name);
    assertEquals(state.get(name)!.shape, shape, name);
  }
  // Ours is what PyTorch would write: same names, F32 and an I64 scalar counter.
  await saveModelWeights(`${dir}/ours.safetensors`, model);
  const ours = await readSafetensors(`${dir}/ours.safetensors`);
  assertEquals(ours.metadata, { format: "pt" });
  const counter = ours.tensors.get("1.num_batches_tracked")!;
  assertEquals([counter.dtype, counter.shape, counter.data], ["I64", [], new BigInt64Array([7n])]);
  for (const [name, dtype, shape, data] of entries) {
    const t = ours.tensors.get(name)!;
    assertEquals([t.dtype, t.shape], [dtype, shape], name);
    assertEquals(t.data, data, name);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loading names every missing, unexpected and mis-shaped tensor and changes nothing", async () => {
  const dir = await Deno.makeTempDir();
  const entries = pytorchEntries(new Generator(3))
    .filter(([name]) => name !== "5.bias")
    .map((e): [string, "F32" | "I64", number[], ArrayBufferView] =>
      e[0] === "0.weight" ? [e[0], "F32", [4, 27], e[3]] : e
    );
  entries.push(["extra.weight", "F32", [1], new Float32Array([1])]);
  const path = `${dir}/bad.safetensors`;
  await Deno.writeFile(path, pytorchFile(entries));
  const model = net(1);
  const before = await weights(model);
  const error = await assertRejects(
    () => loadModelWeights(path, model),
    "3 problem(s), nothing loaded",
  );
  for (
    const text of [
      'missing "5.bias"',
      'unexpected "extra.weight"',
      '"0.weight" has shape [4, 27], expected [4, 3, 3, 3]',
    ]
  ) {
    assert(error.message.includes(text), `names ${text}: ${error.message}`);
  }
  assertEquals(await weights(model), before);
  // Not strict: missing and unexpected are fine, a wrong shape is not.
  await assertRejects(
    () => loadModelWeights(path, model, { strict: false }),
    '"0.weight" has shape',
  );
  const lenient = pytorchEntries(new Generator(4)).filter(([name]) => name !== "5.bias");
  await Deno.writeFile(path, pytorchFile(lenient));
  await loadModelWeights(path, model, { strict: false });
  const after = await model.stateDict();
  assertEquals(
    after.get("5.bias")!.data,
    new Float32Array(before.find(([name]) => name === "5.bias")![2].buffer),
    "kept",
  );
  assertEquals(after.get("5.weight")!.data, lenient[7][3], "loaded");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("saveCheckpoint creates a missing folder", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/runs/new/checkpoint.safetensors`;
  await saveCheckpoint(path, { model: net(3), trainState: { epoch: 1, step: 0, globalStep: 3 } });
  assertEquals(await restoreCheckpoint(path, { model: net(4) }), {
    epoch: 1,
    step: 0,
    globalStep: 3,
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoint round trip is bit-exact: model, optimizer, generators, train state", async () => {
  const dir = await Deno.makeTempDir();
  const rng = new Generator(testSeed("checkpoint round trip"));
  const data = batches(rng, 3, 8);
  const model = net(5);
  const optimizer = new SGD(model, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
  await fit(model, data, { optimizer, epochs: 2, log: null });
  const generator = new Generator(99);
  generator.normal(); // a cached spare normal is part of the state
  const path = `${dir}/run.safetensors`;
  await Deno.writeTextFile(path, "an older file, replaced atomically");
  const trainState = { epoch: 2, step: 0, globalStep: 6 };
  await saveCheckpoint(path, { model, optimizer, trainState, generators: { data: generator } });
  assertEquals(
    [...Deno.readDirSync(dir)].map((e) => e.name),
    ["run.safetensors"],
    "no temporary left",
  );

  const fresh = net(6);
  const freshOptimizer = new SGD(fresh, {
    lr: 0.05,
    momentum: 0.9,
    nesterov: true,
    weightDecay: 1e-4,
  });
  const freshGenerator = new Generator(1);
  const restored = await restoreCheckpoint(path, {
    model: fresh,
    optimizer: freshOptimizer,
    generators: { data: freshGenerator },
  });
  assertEquals(restored, trainState);
  assertEquals(await weights(fresh), await weights(model));
  const [a, b] = [await optimizer.stateDict(), await freshOptimizer.stateDict()];
  assertEquals(b.groups, a.groups);
  assertEquals(
    [...b.tensors].map(([k, v]) => [k, v.shape, v.data]),
    [...a.tensors].map(([k, v]) => [k, v.shape, v.data]),
  );
  assertEquals(freshGenerator.getState(), generator.getState());
  assertEquals([freshGenerator.normal(), freshGenerator.uniform()], [
    generator.normal(),
    generator.uniform(),
  ]);
  const file = await readSafetensors(path);
  assert(file.tensors.has("optimizer.state.0.weight.momentum_buffer"));
  assertEquals(file.metadata["optimizer.type"], "SGD");

  // A wrong optimizer or a missing generator is reported before anything changes.
  const other = net(7);
  const otherBefore = await weights(other);
  const error = await assertRejects(
    () =>
      restoreCheckpoint(path, {
        model: other,
        optimizer: new Adam(other),
        generators: { data: new Generator(0), augment: new Generator(0) },
      }),
    "nothing loaded",
  );
  assert(
    error.message.includes("SGD optimizer") && error.message.includes('"generator.augment"'),
    error.message,
  );
  assertEquals(await weights(other), otherBefore);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a resumed run ends with exactly the weights of an uninterrupted one", async () => {
  const dir = await Deno.makeTempDir();
  const data = batches(new Generator(testSeed("resume")), 5, 8);
  const epochs = 3;
  const run = (model: Sequential, optimizer: Adam, generator: Generator, extra: object) =>
    fit(model, shuffled(data, generator), {
      optimizer,
      epochs,
      logEvery: 3,
      log: null,
      schedule: cosineAnnealing({ totalSteps: 15 }),
      generators: { data: generator },
      ...extra,
    });

  // Uninterrupted.
  const a = net(21);
  const historyA = (await run(a, new Adam(a, { lr: 0.01 }), new Generator(8), {})).history;

  // Interrupted after 7 steps (epoch 2, step 2), then continued in the same objects.
  const path = `${dir}/resume.safetensors`;
  const b = net(21);
  const optimizerB = new Adam(b, { lr: 0.01 });
  const generatorB = new Generator(8);
  const stopped = await run(b, optimizerB, generatorB, { maxSteps: 7, checkpoint: { path } });
  assertEquals(stopped.trainState, { epoch: 1, step: 2, globalStep: 7 });
  const saved = await Deno.readFile(path);
  await run(b, optimizerB, generatorB, { resume: path });

  // Continued from the checkpoint in fresh objects built with other seeds.
  await Deno.writeFile(path, saved);
  const c = net(77);
  const historyC: LogInfo[] =
    (await run(c, new Adam(c, { lr: 0.5 }), new Generator(1234), { resume: path })).history;

  const weightsA = await weights(a);
  assertEquals(await weights(b), weightsA, "continued in the same objects");
  assertEquals(await weights(c), weightsA, "continued in fresh objects");
  assertEquals(historyC, historyA.filter((h) => h.globalStep > 7), "the same running losses");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a state_dict without num_batches_tracked loads with the counter at 0; other gaps still fail", async () => {
  const dir = await Deno.makeTempDir();
  const entries = pytorchEntries(new Generator(testSeed("no counter")));
  const path = `${dir}/old.safetensors`;
  await Deno.writeFile(
    path,
    pytorchFile(entries.filter(([name]) => name !== "1.num_batches_tracked")),
  );
  const model = net(1);
  const bn = model.at(1) as BatchNorm2d;
  await fit(model, batches(new Generator(2), 2, 4), {
    optimizer: new SGD(model, { lr: 0.01 }),
    log: null,
  });
  assertEquals(await bn.numBatchesTracked.read(), new Float32Array([2]), "counted before");
  await loadModelWeights(path, model);
  assertEquals(await bn.numBatchesTracked.read(), new Float32Array([0]), "as PyTorch: 0");
  const state = await model.stateDict();
  assertEquals(state.get("1.running_mean")!.data, entries[4][3], "the rest loaded");
  // The module-level load accepts the gap too, and counts on from 0.
  state.delete("1.num_batches_tracked");
  model.loadStateDict(state);
  model.train().forward(Tensor.zeros([2, 3, 4, 4]));
  assertEquals(await bn.numBatchesTracked.read(), new Float32Array([1]));
  // Anything else missing is still an error that changes nothing.
  await Deno.writeFile(path, pytorchFile(entries.filter(([name]) => name !== "1.running_var")));
  await assertRejects(() => loadModelWeights(path, model), 'missing "1.running_var"');
  state.delete("1.running_var");
  assertThrows(() => model.loadStateDict(state), 'missing "1.running_var"');
  await Deno.remove(dir, { recursive: true });
});

/** `bytes` with the first occurrence of `from` (in the header) replaced by `to`, same length. */
function patched(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const at = new TextDecoder("latin1").decode(bytes).indexOf(from);
  assert(at > 8 && from.length === to.length, `found ${from}`);
  const out = bytes.slice();
  out.set(new TextEncoder().encode(to), at);
  return out;
}

Deno.test("a checkpoint's checksum catches an edited header value or a flipped data byte", async () => {
  const dir = await Deno.makeTempDir();
  const model = net(3);
  const optimizer = new Adam(model, { lr: 0.003 });
  const path = `${dir}/ck.safetensors`;
  await saveCheckpoint(path, {
    model,
    optimizer,
    trainState: { epoch: 1, step: 0, globalStep: 4 },
    metadata: { note: "kept" },
  });
  const good = await Deno.readFile(path);
  const file = await readSafetensors(path);
  assertEquals(Object.keys(file.metadata).at(-1), CHECKSUM_KEY, "the checksum closes the metadata");
  assertEquals(file.metadata.note, "kept");
  const edits = [
    patched(good, '\\"lr\\":0.003', '\\"lr\\":9.003'), // the optimizer's lr
    patched(good, '"epoch":"1"', '"epoch":"7"'),
    good.map((b, i) => (i === good.length - 3 ? b ^ 1 : b)), // a weight's bit
  ];
  for (const bytes of edits) {
    await Deno.writeFile(path, bytes);
    for (
      const load of [
        () => readSafetensors(path),
        () => loadModelWeights(path, net(4)),
        () => restoreCheckpoint(path, { model: net(4), optimizer: new Adam(net(5)) }),
      ]
    ) {
      await assertRejects(load, `${path}: the contents do not match the checksum`);
    }
  }
  // Files without one (PyTorch's, saveModelWeights') load as before.
  await saveModelWeights(path, model);
  assertEquals((await readSafetensors(path)).metadata, { format: "pt" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fit's checkpoint: its folder is made, a bad path fails before training, leftovers go", async () => {
  const dir = await Deno.makeTempDir();
  const data = batches(new Generator(testSeed("checkpoint paths")), 2, 4);
  let steps = 0;
  const run = (path: string) => {
    const model = net(8);
    return fit(model, data, {
      optimizer: new SGD(model, { lr: 0.01 }),
      log: null,
      checkpoint: { path, metadata: () => ({ run: "a" }) },
      onStep: () => void steps++,
    });
  };
  const nested = `${dir}/new/deeper/ck.safetensors`;
  await run(nested);
  assertEquals((await readSafetensors(nested)).metadata.run, "a");
  assertEquals(steps, 2);

  await Deno.mkdir(`${dir}/folder`);
  await Deno.writeTextFile(`${dir}/file`, "");
  for (
    const [path, why] of [
      [`${dir}/folder`, "is a folder"],
      [`${dir}/file/ck.safetensors`, "cannot create its folder"],
    ]
  ) {
    await assertRejects(() => run(path), `checkpoint ${path}: ${why}`);
  }
  assertEquals(steps, 2, "no step ran for a bad path");

  const stale = [`${nested}.tmp-4242-a1b2`, `${nested}.tmp-1-x`];
  for (const name of stale) await Deno.writeTextFile(name, "killed mid-write");
  await Deno.writeTextFile(`${dir}/new/deeper/other.safetensors.tmp-1-x`, "not ours");
  await run(nested);
  assertEquals(
    [...Deno.readDirSync(`${dir}/new/deeper`)].map((e) => e.name).sort(),
    ["ck.safetensors", "other.safetensors.tmp-1-x"],
  );
  assertEquals(await removeStaleTemporaries(`${dir}/none/ck.safetensors`), 0);
  await Deno.remove(dir, { recursive: true });
});
