/**
 * hajime against jax-js 0.1.25 and TensorFlow.js 4.22, each on its WebGPU backend on the same
 * adapter, in the same run: the article's BasicCNN, ConvBnNet, DeepBnNet and Resnet (and, on
 * request, Shake-Shake-26 2×32d, which has no jax-js twin) trained with Adam (lr 0.003) and
 * cross-entropy on random 32×32 inputs. Every peer builds the same architecture (the twins are in
 * compare_jax.ts and compare_tfjs.ts) and prints its trainable parameter count. Every step is
 * awaited to the end (its loss read back, which waits for the step's GPU work), so a step's time
 * is its whole GPU time; the figure is the median images/s over the timed steps after warm-up,
 * and each peer's loss must end its timed steps below its first step's (a warning, and exit
 * status 1 at the end, if it does not, or if the parameter counts differ). As in `fit`, hajime's autotuner times its
 * kernel variants after the first step, outside the timing (`HAJIME_AUTOTUNE=0` measures the
 * default variants).
 *
 * ```
 * deno run -A bench/compare.ts                      # 4 article models, batch 32 and 128
 * deno run -A bench/compare.ts --models resnet --batch 32 --steps 10 --jax-steps 3 --tfjs-steps 2
 * deno run -A bench/compare.ts --peers hajime,jaxjs --models basic-cnn --batch 32
 * ```
 *
 * jax-js and TensorFlow.js are benchmark-only dependencies, imported by `npm:` specifier in the
 * twin files (bench/ is not published). Both are much slower than hajime on a software adapter
 * (TF.js Resnet takes 11–15 s a step at batch 32 on llvmpipe), hence their own, smaller step
 * counts.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  Adam,
  createModel,
  CrossEntropyLoss,
  Generator,
  gpuInfo,
  initGpu,
  modelNames,
  Tensor,
} from "../mod.ts";
import { autotuner, recordTrainStep } from "../gpu.ts";
import { initJax, JAX_MODELS, JAX_VERSION, jaxRun } from "./compare_jax.ts";
import { initTfjs, TFJS_MODELS, tfjsRun } from "./compare_tfjs.ts";

const LABELS: Record<string, string> = {
  "basic-cnn": "BasicCNN",
  "conv-bn-net": "ConvBnNet",
  "deep-bn-net": "DeepBnNet",
  "resnet": "Resnet",
  "shake-shake-26-2x32d": "Shake-Shake-26 2×32d",
};
const DEFAULT_MODELS = ["basic-cnn", "conv-bn-net", "deep-bn-net", "resnet"];
const LR = 0.003;

/** One model in training by one peer. */
interface Run {
  /** Trainable parameters. */
  params: number;
  /** One awaited training step; returns its loss. */
  step: () => Promise<number>;
  /** Run before the warm-up (hajime: a step, then the autotuner's timing); returns its loss. */
  first?: () => Promise<number>;
  dispose: () => void;
}

/** Warm-up and timed step counts. */
interface Counts {
  warmup: number;
  steps: number;
}

/** One framework of the comparison. */
interface Peer {
  label: string;
  /** Prefix of its step-count flags (`--jax-steps`); hajime's are `--warmup` and `--steps`. */
  flagPrefix: string;
  defaults: Counts;
  /** Whether it builds model `name`. */
  has: (name: string) => boolean;
  /** Starts its backend; returns what to print of it. */
  start: () => Promise<string>;
  run: (name: string, batch: number, rng: Generator) => Run;
}

/**
 * hajime: one recorded step (zero grads, forward, loss, backward, Adam), its loss read back. The
 * first step is followed by the autotuner's timing of the kernel shapes it met, as `fit` does
 * (nothing to time when the on-disk cache already holds this adapter's choices).
 */
function hajimeRun(name: string, batch: number, rng: Generator): Run {
  const model = createModel(name, { seed: 0 });
  const optimizer = new Adam(model, { lr: LR });
  const loss = new CrossEntropyLoss();
  const images = Tensor.from(
    Float32Array.from({ length: batch * 3 * 32 * 32 }, () => rng.uniform()),
    [batch, 3, 32, 32],
  );
  const labels = Tensor.from(Int32Array.from({ length: batch }, () => rng.int(10)), [batch], {
    dtype: "i32",
  });
  const step = async () => {
    const [value] = await recordTrainStep(model, { images, labels }, loss, optimizer).read();
    return value;
  };
  return {
    params: model.numParameters(),
    step,
    first: async () => {
      const value = await step();
      const tuned = (await autotuner().tunePending()).filter((r) =>
        Object.keys(r.msPerCall).length
      );
      if (tuned.length) console.log(`  hajime: tuned ${tuned.length} kernel shapes (${name})`);
      return value;
    },
    dispose: () => {
      model.dispose();
      images.dispose();
      labels.dispose();
    },
  };
}

const PEERS: Record<string, Peer> = {
  hajime: {
    label: "hajime",
    flagPrefix: "",
    defaults: { warmup: 5, steps: 20 },
    has: (name) => modelNames().includes(name),
    start: () => Promise.resolve("hajime"),
    run: hajimeRun,
  },
  jaxjs: {
    label: "jax-js",
    flagPrefix: "jax-",
    defaults: { warmup: 2, steps: 5 },
    has: (name) => name in JAX_MODELS,
    start: async () => {
      const adapter = await initJax();
      const other = adapter === gpuInfo().description ? "" : ` on ${adapter}`;
      return `jax-js ${JAX_VERSION}${other}`;
    },
    run: (name, batch, rng) => jaxRun(name, batch, LR, rng),
  },
  tfjs: {
    label: "TF.js",
    flagPrefix: "tfjs-",
    defaults: { warmup: 2, steps: 3 },
    has: (name) => name in TFJS_MODELS,
    start: async () => `TF.js ${await initTfjs()}`,
    run: (name, batch) => tfjsRun(name, batch, LR),
  },
};
const PEER_IDS = Object.keys(PEERS);

const countFlags = PEER_IDS.flatMap((id) => {
  const { label, flagPrefix, defaults } = PEERS[id];
  return [
    `  --${`${flagPrefix}warmup N`.padEnd(18)}${label} warm-up steps (default ${defaults.warmup})`,
    `  --${`${flagPrefix}steps N`.padEnd(18)}${label} timed steps (default ${defaults.steps})`,
  ];
});
const USAGE = `deno run -A bench/compare.ts [flags]
  --models a,b        ${Object.keys(LABELS).join(", ")}
                      (default ${DEFAULT_MODELS.join(",")})
  --batch 32,128      batch sizes (default 32,128)
  --peers a,b         frameworks to run, of ${PEER_IDS.join(",")} (default all)
${countFlags.join("\n")}`;

/** Parses the flags; exits with the usage on a bad one. */
function flags() {
  const counts = Object.fromEntries(
    PEER_IDS.flatMap((id) => {
      const { flagPrefix, defaults } = PEERS[id];
      return [
        [`${flagPrefix}warmup`, { type: "string", default: String(defaults.warmup) }],
        [`${flagPrefix}steps`, { type: "string", default: String(defaults.steps) }],
      ] as const;
    }),
  );
  const { values: v } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      models: { type: "string", default: DEFAULT_MODELS.join(",") },
      batch: { type: "string", default: "32,128" },
      peers: { type: "string", default: PEER_IDS.join(",") },
      ...counts,
      help: { type: "boolean", short: "h" },
    },
  });
  const fail = (message: string): never => {
    console.error(`${message}\n${USAGE}`);
    Deno.exit(2);
  };
  if (v.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const count = (name: string, min: number): number => {
    const n = Number((v as Record<string, unknown>)[name]);
    return Number.isInteger(n) && n >= min ? n : fail(`--${name} must be an integer ≥ ${min}`);
  };
  const peers = v.peers.split(",");
  for (const p of peers) if (!(p in PEERS)) fail(`--peers: unknown peer "${p}"`);
  const models = v.models.split(",");
  for (const m of models) {
    if (!(m in LABELS)) fail(`--models: unknown model "${m}"`);
    if (peers.includes("hajime") && !PEERS.hajime.has(m)) {
      fail(`--models: hajime has no model "${m}" registered`);
    }
  }
  return {
    models,
    batches: String(v.batch).split(",").map((b) => {
      const n = Number(b);
      return Number.isInteger(n) && n >= 1 ? n : fail("--batch must be integers ≥ 1");
    }),
    peers: peers.map((id) => {
      const prefix = PEERS[id].flagPrefix;
      return {
        id,
        ...PEERS[id],
        counts: { warmup: count(`${prefix}warmup`, 0), steps: count(`${prefix}steps`, 1) },
      };
    }),
  };
}

/**
 * Runs `first` (if any), `warmup` steps, then `steps` timed awaited steps; returns the median
 * images/s of the timed ones and the losses of the run's first and last steps.
 */
async function measure(
  run: Run,
  batch: number,
  counts: Counts,
): Promise<{ rate: number; firstLoss: number; lastLoss: number }> {
  const losses: number[] = [];
  if (run.first) losses.push(await run.first());
  for (let i = 0; i < counts.warmup; i++) losses.push(await run.step());
  const seconds: number[] = [];
  for (let i = 0; i < counts.steps; i++) {
    const start = performance.now();
    losses.push(await run.step());
    seconds.push((performance.now() - start) / 1000);
  }
  seconds.sort((a, b) => a - b);
  const mid = seconds.length >> 1;
  const median = seconds.length % 2 ? seconds[mid] : (seconds[mid - 1] + seconds[mid]) / 2;
  return { rate: batch / median, firstLoss: losses[0], lastLoss: losses.at(-1)! };
}

const options = flags();
await initGpu();
const started: string[] = [];
for (const peer of options.peers) started.push(await peer.start());
const load = () => Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`adapter: ${gpuInfo().description} (${started.join(", ")}; WebGPU)`);
console.log(`load average at start: ${load()}`);
const stepCounts = options.peers.map((p) => `${p.label} ${p.counts.warmup} + ${p.counts.steps}`);
console.log(`steps (warm-up + timed): ${stepCounts.join(", ")}; Adam lr ${LR}, cross-entropy`);

/** Images/s to three significant digits (TF.js falls below 1 on a software adapter). */
const rate = (v: number) => v >= 100 ? v.toFixed(0) : v.toPrecision(3);
const others = options.peers.some((p) => p.id === "hajime")
  ? options.peers.filter((p) => p.id !== "hajime")
  : [];
const rows: string[][] = [];
const failures: string[] = [];
const rng = new Generator(0);
for (const name of options.models) {
  const label = LABELS[name];
  for (const batch of options.batches) {
    const rates = new Map<string, number>();
    const params = new Map<string, number>();
    for (const peer of options.peers.filter((p) => p.has(name))) {
      const run = peer.run(name, batch, rng);
      params.set(peer.label, run.params);
      try {
        const { rate, firstLoss, lastLoss } = await measure(run, batch, peer.counts);
        rates.set(peer.id, rate);
        // From the run's first step: after a few steps on one fixed batch the loss is near 0 and
        // jitters, so timed steps alone do not reliably fall.
        if (!(lastLoss < firstLoss)) {
          const fall = `${firstLoss.toFixed(4)} → ${lastLoss.toFixed(4)}`;
          failures.push(`${label} batch ${batch}: ${peer.label}'s loss did not fall (${fall})`);
          console.log(`  WARNING: ${failures.at(-1)}`);
        }
      } finally {
        run.dispose();
      }
    }
    if (batch === options.batches[0]) {
      const same = new Set(params.values()).size === 1;
      if (!same) failures.push(`${label}: parameter counts differ`);
      const counts = [...params].map(([peer, n]) => `${peer} ${n}`).join(", ");
      console.log(`${label}: parameters ${counts} (${same ? "match" : "MISMATCH"})`);
    }
    const hajime = rates.get("hajime");
    const row = [
      label,
      String(batch),
      ...options.peers.map((p) => rates.has(p.id) ? rate(rates.get(p.id)!) : "—"),
      ...others.map((p) => rates.has(p.id) ? `${(hajime! / rates.get(p.id)!).toFixed(1)}×` : "—"),
    ];
    console.log(`  ${row.join("  ")}`);
    rows.push(row);
  }
}
console.log(`load average at end: ${load()}\n`);

const header = [
  "model",
  "batch",
  ...options.peers.map((p) => `${p.label} images/s`),
  ...others.map((p) => `hajime/${p.label}`),
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(" | ")} |`;
console.log(line(header));
console.log(`|${widths.map((w, i) => "-".repeat(w + 1) + (i === 0 ? "-" : ":")).join("|")}|`);
for (const r of rows) console.log(line(r));
if (failures.length) {
  console.error(`\nFAILED:\n${failures.map((f) => `  ${f}`).join("\n")}`);
  Deno.exit(1);
}
