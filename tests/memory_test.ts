/**
 * A training loop's memory stays flat and each step is one submit: 1,000 steps of a small model
 * built from every kind of layer the article uses, with the pool's live-buffer count checked; and
 * 2,000 steps of the article's ConvBnNet in a process of their own, whose resident memory (the
 * software adapter's included) must stay within 10 % of its size after the first 100 steps, whose
 * V8 heap must not grow, and whose steps after the first 100 create no GPU object but their
 * command encoder.
 *
 * The test's ConvBnNet has 4 channels in every layer: the same layers, kernels and dispatches as
 * the article's [10, 20, 40, 80], at a cost SwiftShader runs 2,000 steps of in about two minutes.
 * The full width takes 16 minutes there (2 on lavapipe), too long for CI; `HAJIME_MEMORY_LAYERS`
 * runs the test at another width:
 *
 * ```
 * VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json HAJIME_AUTOTUNE=0 \
 *   HAJIME_MEMORY_LAYERS=10,20,40,80 deno test -A tests/memory_test.ts
 * ```
 *
 * Run as a script, `deno run -A --v8-flags=--expose-gc,--predictable-gc-schedule
 * tests/memory_test.ts [layers, e.g. 10,20,40,80] [replay]` trains ConvBnNet and prints one JSON
 * line of figures: that is what the second test starts. With `replay`, steps after the 100th submit
 * the recorded commands of step 101 again (no hajime code runs), which is how bench/README.md
 * ("Memory") tells SwiftShader's own growth at the full width from hajime's.
 *
 * @module
 */

import {
  Adam,
  AdaptiveMaxPool2d,
  BatchNorm2d,
  Conv2d,
  convBnNet,
  CrossEntropyLoss,
  Flatten,
  Generator,
  gpuInfo,
  Linear,
  ReLU,
  Residual,
  Sequential,
  Tensor,
} from "../mod.ts";
import {
  bufferPool,
  endStep,
  flush,
  frameStats,
  gpuDevice,
  recordTrainStep,
  sync,
} from "../gpu.ts";
import { setPoison } from "../src/tensor.ts";
import { fileURLToPath } from "node:url";
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

/** ConvBnNet steps of the RSS test, the step after which its baseline is taken, the sampling. */
const RSS_STEPS = 2000;
const RSS_BASELINE_STEP = 100;
const RSS_SAMPLE_EVERY = 100;

/**
 * V8 flags of the child. V8 sizes its young generation by the allocation rate it sees: with its
 * default schedule the new space grew from 32 to 49 MB near step 900 of a SwiftShader run and,
 * when steps were slow, shrank to 2 MB between samples and grew back, ±15 MB of RSS that is V8's
 * policy, not hajime's memory (hajime's JS heap is the `heap` figure). A predictable schedule keeps
 * the new space at 8 MB.
 */
const CHILD_V8_FLAGS = "--expose-gc,--predictable-gc-schedule";

/** What the child process reports, one entry per RSS_SAMPLE_EVERY steps, the first after RSS_BASELINE_STEP. */
interface RssReport {
  adapter: string;
  /** Resident bytes. */
  rss: number[];
  /** V8 heap bytes in use after a full GC. */
  heap: number[];
  /** The pool's live buffers. */
  live: number[];
  /** GPU objects other than command encoders the device created since the previous entry. */
  created: Record<string, number>[];
  /** Command encoders the device created since the previous entry. */
  encoders: number[];
  seconds: number;
}

/**
 * Counts every `create*` call on `device` from now on, by method (the count is taken on the
 * instance, so every hajime call through `gpuDevice()` passes through it).
 */
function countCreations(device: GPUDevice): Map<string, number> {
  const counts = new Map<string, number>();
  const methods = device as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(device))) {
    if (!name.startsWith("create")) continue;
    const create = methods[name];
    methods[name] = (...args) => {
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return create.apply(device, args);
    };
  }
  return counts;
}

/**
 * One training step's GPU commands as hajime issued them: every call on the step's command
 * encoder, on the compute passes it began and on the queue, with copies of the bytes written.
 */
type RecordedCall = { on: "encoder" | "pass" | "queue"; method: string; args: unknown[] };

/** Runs `step` with the encoder, pass and queue prototypes patched to record every call it makes. */
function recordCommands(step: () => void): RecordedCall[] {
  const calls: RecordedCall[] = [];
  const restore: (() => void)[] = [];
  const patch = (on: RecordedCall["on"], proto: object, methods: string[]) => {
    const table = proto as Record<string, (...args: unknown[]) => unknown>;
    for (const method of methods) {
      const original = table[method];
      table[method] = function (this: unknown, ...args: unknown[]) {
        // The bytes as they are now: hajime rewrites its upload arrays every step.
        const kept = args.map((a) =>
          a instanceof ArrayBuffer || ArrayBuffer.isView(a) ? (a as Uint8Array).slice() : a
        );
        calls.push({ on, method, args: kept });
        return original.apply(this, args);
      };
      restore.push(() => table[method] = original);
    }
  };
  patch("encoder", GPUCommandEncoder.prototype, [
    "beginComputePass",
    "copyBufferToBuffer",
    "clearBuffer",
  ]);
  patch("pass", GPUComputePassEncoder.prototype, [
    "setPipeline",
    "setBindGroup",
    "dispatchWorkgroups",
    "dispatchWorkgroupsIndirect",
    "end",
  ]);
  patch("queue", GPUQueue.prototype, ["writeBuffer"]);
  try {
    step();
  } finally {
    for (const undo of restore) undo();
  }
  return calls;
}

/** Issues the recorded calls again, as one command buffer: no hajime code runs. */
function replayCommands(device: GPUDevice, calls: RecordedCall[]): void {
  const encoder = device.createCommandEncoder({ label: "memoryTest.replay" });
  let pass: GPUComputePassEncoder | null = null;
  for (const { on, method, args } of calls) {
    const target =
      (on === "queue" ? device.queue : on === "pass" ? pass : encoder) as unknown as Record<
        string,
        (...args: unknown[]) => unknown
      >;
    const result = target[method](...args);
    if (method === "beginComputePass") pass = result as GPUComputePassEncoder;
  }
  device.queue.submit([encoder.finish()]);
}

/**
 * Trains ConvBnNet on a random batch of 2 for RSS_STEPS steps, sampling memory and GPU objects.
 * With `replay`, only the first RSS_BASELINE_STEP steps are hajime's: the rest submit the GPU
 * commands of step RSS_BASELINE_STEP + 1 again and again, which tells the adapter's own memory from
 * hajime's.
 */
async function trainConvBnNet(layers: number[], replay = false): Promise<RssReport> {
  setPoison(false); // the poison fills of new buffers would only add time
  const device = gpuDevice();
  const counts = countCreations(device);
  const rng = new Generator(7);
  const model = convBnNet(layers, 10, { seed: 1 });
  const optimizer = new Adam(model, { lr: 1e-3 });
  const loss = new CrossEntropyLoss();
  const batch = {
    images: Tensor.from(Float32Array.from({ length: 2 * 3 * 32 * 32 }, () => rng.uniform()), [
      2,
      3,
      32,
      32,
    ]),
    labels: Tensor.from([3, 8], [2], { dtype: "i32" }),
  };
  const trainStep = () => {
    recordTrainStep(model, batch, loss, optimizer);
    flush();
  };
  let recorded: RecordedCall[] | null = null;
  const gc = (globalThis as { gc?: () => void }).gc;
  const report: RssReport = {
    adapter: gpuInfo().description,
    rss: [],
    heap: [],
    live: [],
    created: [],
    encoders: [],
    seconds: 0,
  };
  const start = performance.now();
  for (let step = 1; step <= RSS_STEPS; step++) {
    if (recorded) replayCommands(device, recorded);
    else if (replay && step === RSS_BASELINE_STEP + 1) recorded = recordCommands(trainStep);
    else trainStep();
    await endStep(); // the throttle `fit` uses
    if (step % RSS_SAMPLE_EVERY === 0) {
      await sync();
      gc?.();
      const memory = Deno.memoryUsage();
      report.rss.push(memory.rss);
      report.heap.push(memory.heapUsed);
      report.live.push(bufferPool.stats().live);
      report.encoders.push(counts.get("createCommandEncoder") ?? 0);
      counts.delete("createCommandEncoder");
      report.created.push(Object.fromEntries(counts));
      counts.clear();
    }
  }
  report.seconds = (performance.now() - start) / 1000;
  return report;
}

if (import.meta.main) {
  const layers = (Deno.args[0] ?? "4,4,4,4").split(",").map(Number);
  console.log(JSON.stringify(await trainConvBnNet(layers, Deno.args[1] === "replay")));
}

Deno.test("2,000 ConvBnNet steps keep RSS within 10 % of its size after 100", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--v8-flags=${CHILD_V8_FLAGS}`,
      fileURLToPath(import.meta.url),
      Deno.env.get("HAJIME_MEMORY_LAYERS") ?? "4,4,4,4",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert(output.success, `the training process failed: ${stderr}`);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  const report: RssReport = JSON.parse(lines[lines.length - 1]);
  const mb = (bytes: number[], digits = 0) =>
    bytes.map((b) => (b / 2 ** 20).toFixed(digits)).join(" ");
  console.log(
    `${report.adapter}: every ${RSS_SAMPLE_EVERY} steps RSS MB ${mb(report.rss)}; ` +
      `V8 heap MB ${mb(report.heap, 1)}; ${report.seconds.toFixed(1)} s; GPU objects created ` +
      `in the first ${RSS_BASELINE_STEP} steps ${JSON.stringify(report.created[0])}`,
  );
  assertEquals(report.rss.length, RSS_STEPS / RSS_SAMPLE_EVERY);
  const [first, last] = [report.rss[0], report.rss[report.rss.length - 1]];
  assert(
    Math.abs(last - first) <= 0.1 * first,
    `RSS after ${RSS_STEPS} steps is ${mb([last])} MB, after ${RSS_BASELINE_STEP} ${
      mb([first])
    } MB`,
  );
  assertEquals(new Set(report.live).size, 1, `live buffers ${report.live}`);
  const heapGrowth = report.heap[report.heap.length - 1] - report.heap[0];
  assert(heapGrowth < 2 ** 20, `the V8 heap grew by ${mb([heapGrowth], 1)} MB`);
  report.created.slice(1).forEach((created, i) => {
    const steps = `steps ${(i + 1) * RSS_SAMPLE_EVERY + 1}-${(i + 2) * RSS_SAMPLE_EVERY}`;
    assertEquals(created, {}, `GPU objects created in ${steps}`);
    assertEquals(report.encoders[i + 1], RSS_SAMPLE_EVERY, `command encoders in ${steps}`);
  });
});
