/**
 * examples/train.ts and examples/predict.ts: flag parsing (the article's defaults, the fast and
 * Shake-Shake presets and what the fast one builds, every bad value named), a 3-step run of
 * `--recipe fast` on a tiny synthetic tree, the command line's exit codes and help, a short real
 * run on a tiny copy of ../shared/cifar10 whose report (metrics.json, well-formed SVGs,
 * report.html) and article log lines are checked, and predict.ts on the checkpoint it wrote. The predict pieces are
 * also checked in process against a CPU-built input on synthetic images.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import {
  Adam,
  createModel,
  Generator,
  modelNames,
  readSafetensors,
  type Recipe,
  saveCheckpoint,
  saveModelWeights,
  SGD,
  Tensor,
} from "../mod.ts";
import {
  FlagError,
  makeLoss,
  makeOptimizer,
  makeSchedule,
  parseTrainFlags,
  resumeFlags,
  type TrainFlags,
} from "../examples/train_flags.ts";
import {
  CIFAR10_CLASSES,
  CIFAR_NORMALIZE,
  classifyFiles,
  formatPrediction,
  listImageFiles,
  loadImages,
  loadWeights,
  parsePredictFlags,
  predict,
  softmaxRows,
  topK,
} from "../examples/predict_lib.ts";
import {
  assert,
  assertClose,
  assertEquals,
  AssertionError,
  assertRejects,
  assertThrows,
  testSeed,
} from "./assert.ts";
import {
  jpegBytes,
  pngBytes,
  randomPixels,
  runExample,
  writeImageFolder,
  writeTree,
} from "./fixtures.ts";
import "./gpu.ts";
import { imageDecodersReady } from "../mod.ts";

const CIFAR = fileURLToPath(new URL("../../shared/cifar10", import.meta.url));
const MODELS = modelNames();

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const HAS_CIFAR = exists(join(CIFAR, "train")) && exists(join(CIFAR, "test"));
if (!HAS_CIFAR) {
  console.warn(
    `train_example_test: ${CIFAR} is absent: the train.ts run and predict.ts on its checkpoint ` +
      `are skipped`,
  );
}

/** Throws unless `fn` throws a FlagError whose message includes `includes`. */
function assertFlagError(fn: () => unknown, includes: string): void {
  const error = assertThrows(fn, includes);
  if (!(error instanceof FlagError)) {
    throw new AssertionError(`expected a FlagError, got ${error.name}: ${error.message}`);
  }
}

/**
 * Checks that `text` is one well-formed XML element: tags balanced and properly nested, attribute
 * values quoted, no attribute repeated, no bare `<` or `&` in text or values, nothing but white
 * space outside the root. Returns the root element's name.
 */
function checkXml(text: string): string {
  const stack: string[] = [];
  let root = "";
  let i = 0;
  const fail = (why: string): never => {
    throw new AssertionError(
      `not well-formed XML at offset ${i}: ${why}: …${text.slice(Math.max(0, i - 40), i + 40)}…`,
    );
  };
  const name = "[A-Za-z_][\\w.:-]*";
  const reference = "&(?:amp|lt|gt|quot|apos|#\\d+|#x[0-9a-fA-F]+);";
  const tag = new RegExp(`<(/?)(${name})`, "y");
  const attribute = new RegExp(
    `\\s+(${name})\\s*=\\s*(?:"(?:[^"<&]|${reference})*"|'(?:[^'<&]|${reference})*')`,
    "y",
  );
  const tagEnd = /\s*(\/?)>/y;
  const entity = new RegExp(reference, "y");
  if (text.startsWith("<?xml")) i = text.indexOf("?>") + 2;
  while (i < text.length) {
    if (text.startsWith("<!--", i)) {
      const end = text.indexOf("-->", i);
      if (end < 0) fail("unclosed comment");
      i = end + 3;
      continue;
    }
    if (text[i] === "<") {
      tag.lastIndex = i;
      const open = tag.exec(text) ?? fail("malformed tag");
      const [, closing, element] = open;
      i = tag.lastIndex;
      const names: string[] = [];
      for (attribute.lastIndex = i;; attribute.lastIndex = i) {
        const match = attribute.exec(text);
        if (!match) break;
        if (closing) fail(`attributes in </${element}>`);
        if (names.includes(match[1])) fail(`attribute ${match[1]} repeated`);
        names.push(match[1]);
        i = attribute.lastIndex;
      }
      tagEnd.lastIndex = i;
      const end = tagEnd.exec(text) ?? fail(`malformed attributes in <${element}>`);
      i = tagEnd.lastIndex;
      if (closing) {
        if (end[1]) fail(`</${element}/>`);
        const top = stack.pop();
        if (top !== element) fail(`</${element}> closes <${top ?? "nothing"}>`);
      } else {
        if (stack.length === 0) {
          if (root) fail(`a second root element <${element}>`);
          root = element;
        }
        if (!end[1]) stack.push(element);
      }
    } else if (text[i] === "&") {
      entity.lastIndex = i;
      if (!entity.exec(text)) fail("a bare &");
      i = entity.lastIndex;
    } else {
      if (stack.length === 0 && !/\s/.test(text[i])) fail("text outside the root element");
      i++;
    }
  }
  if (stack.length > 0) fail(`<${stack.at(-1)}> is never closed`);
  if (!root) fail("no element");
  return root;
}

Deno.test("checkXml accepts well-formed SVG and rejects each kind of breakage", () => {
  const good = `<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10">` +
    `<!-- a comment --><g><text x='1' y="2">a &lt; b &amp; c</text><rect/></g></svg>\n`;
  assertEquals(checkXml(good), "svg");
  for (
    const [bad, why] of [
      [`<svg><g></svg>`, "closes <g>"],
      [`<svg><g></g>`, "never closed"],
      [`<svg></g></svg>`, "closes <svg>"],
      [`<svg a="1" a="2"/>`, "repeated"],
      [`<svg a=1/>`, "malformed attributes"],
      [`<svg a="x<y"/>`, "malformed attributes"],
      [`<svg>a & b</svg>`, "bare &"],
      [`<svg><text>a < b</text></svg>`, "malformed tag"],
      [`<svg/><svg/>`, "second root"],
      [`text<svg/>`, "outside the root"],
      [``, "no element"],
    ]
  ) {
    assertThrows(() => checkXml(bad), why);
  }
});

/** The flags a `--recipe` preset sets, which count as given. */
const PRESET_GIVEN = [
  "model",
  "optimizer",
  "lr",
  "momentum",
  "nesterov",
  "weight-decay",
  "schedule",
  "pct-start",
  "no-cycle-momentum",
  "no-decay-bn-bias",
  "label-smoothing",
  "epochs",
  "batch-size",
  "augment",
  "normalize",
];

const ARTICLE_DEFAULTS: TrainFlags = {
  model: "resnet",
  recipe: "article",
  epochs: 4,
  batchSize: 32,
  optimizer: "adam",
  lr: 0.003,
  momentum: 0,
  nesterov: false,
  weightDecay: 0,
  schedule: "none",
  pctStart: 0.3,
  cycleMomentum: true,
  decayBnBias: true,
  labelSmoothing: 0,
  augment: "none",
  normalize: false,
  data: null,
  download: true,
  skipBroken: false,
  clearCache: false,
  seed: 0,
  checkpoint: null,
  checkpointEvery: null,
  resume: null,
  out: null,
  lrFind: false,
  logEvery: 500,
  maxSteps: null,
  timeLimit: null,
  trainLimit: null,
  testLimit: null,
  override: [],
  given: [],
  help: false,
};

Deno.test("parseTrainFlags: no flags give the article's recipe", () => {
  assertEquals(parseTrainFlags([], MODELS), ARTICLE_DEFAULTS);
});

Deno.test("parseTrainFlags: every flag is read", () => {
  const flags = parseTrainFlags([
    "--model=basic-cnn",
    "--epochs=2",
    "--batch-size=16",
    "--optimizer=sgd",
    "--lr=0.1",
    "--momentum=0.9",
    "--nesterov",
    "--weight-decay=5e-4",
    "--schedule=one-cycle",
    "--pct-start=0.4",
    "--no-cycle-momentum",
    "--no-decay-bn-bias",
    "--label-smoothing=0.2",
    "--augment=crop-flip-cutout",
    "--normalize",
    "--data=/data/cifar",
    "--no-download",
    "--seed=7",
    "--checkpoint=c.safetensors",
    "--checkpoint-every=50",
    "--resume=r.safetensors",
    "--out=runs/x",
    "--log-every=10",
    "--max-steps=20",
    "--time-limit=90.5",
    "--train-limit=1000",
    "--test-limit=200",
    "--override=lr,seed",
  ], MODELS);
  assertEquals(flags, {
    ...ARTICLE_DEFAULTS,
    model: "basic-cnn",
    epochs: 2,
    batchSize: 16,
    optimizer: "sgd",
    lr: 0.1,
    momentum: 0.9,
    nesterov: true,
    weightDecay: 5e-4,
    schedule: "one-cycle",
    pctStart: 0.4,
    cycleMomentum: false,
    decayBnBias: false,
    labelSmoothing: 0.2,
    augment: "crop-flip-cutout",
    normalize: true,
    data: "/data/cifar",
    download: false,
    seed: 7,
    checkpoint: "c.safetensors",
    checkpointEvery: 50,
    resume: "r.safetensors",
    out: "runs/x",
    logEvery: 10,
    maxSteps: 20,
    timeLimit: 90.5,
    trainLimit: 1000,
    testLimit: 200,
    override: ["lr", "seed"],
    given: [
      "model",
      "optimizer",
      "lr",
      "momentum",
      "nesterov",
      "weight-decay",
      "schedule",
      "pct-start",
      "no-cycle-momentum",
      "no-decay-bn-bias",
      "label-smoothing",
      "epochs",
      "max-steps",
      "batch-size",
      "augment",
      "normalize",
      "seed",
      "data",
      "train-limit",
      "test-limit",
    ],
  });
  assertEquals(parseTrainFlags(["--lr-find", "-h"], MODELS).lrFind, true);
  assertEquals(parseTrainFlags(["-h"], MODELS).help, true);
  // --help is honoured whatever else is wrong with the model name.
  assertEquals(parseTrainFlags(["--help", "--model", "vgg"], MODELS).help, true);
});

Deno.test("parseTrainFlags: the shake-shake preset, and flags overriding it", () => {
  const preset = parseTrainFlags(["--recipe", "shake-shake"], MODELS);
  assertEquals(preset, {
    ...ARTICLE_DEFAULTS,
    recipe: "shake-shake",
    model: "shake-shake-26-2x32d",
    epochs: 1800,
    batchSize: 128,
    optimizer: "sgd",
    lr: 0.2,
    momentum: 0.9,
    nesterov: true,
    weightDecay: 1e-4,
    schedule: "cosine",
    augment: "crop-flip",
    normalize: true,
    given: [...PRESET_GIVEN],
  });
  const custom = parseTrainFlags(
    ["--recipe", "shake-shake", "--model", "shake-shake-26-2x96d", "--epochs", "3", "--lr", "0.1"],
    MODELS,
  );
  assertEquals(
    [custom.model, custom.epochs, custom.lr, custom.batchSize],
    ["shake-shake-26-2x96d", 3, 0.1, 128],
  );
});

/** What `--recipe fast` is: part 2 of the series before Shake-Shake (issue 13, item 6). */
const FAST: TrainFlags = {
  ...ARTICLE_DEFAULTS,
  recipe: "fast",
  model: "resnet",
  epochs: 10,
  batchSize: 128,
  optimizer: "sgd",
  lr: 0.1,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  schedule: "one-cycle",
  pctStart: 0.25,
  cycleMomentum: false,
  decayBnBias: false,
  labelSmoothing: 0.1,
  augment: "crop-flip",
  normalize: true,
  given: [...PRESET_GIVEN],
};

Deno.test("--recipe fast: the flags, and the optimizer, schedule and loss they build", () => {
  const flags = parseTrainFlags(["--recipe", "fast"], MODELS);
  assertEquals(flags, FAST);
  const model = createModel(flags.model);
  const optimizer = makeOptimizer(flags, model);
  assert(optimizer instanceof SGD, optimizer.typeName);
  const decay = new Set(["conv1.weight", "out.weight"]);
  for (const [name] of model.namedParameters()) {
    if (/^layers\d?\.\d+\.conv\.weight$/.test(name)) decay.add(name);
  }
  assertEquals(decay.size, 14, [...decay].join());
  assertEquals(optimizer.groups.length, 2);
  for (const [g, group] of optimizer.groups.entries()) {
    assertEquals(
      [group.lr, group.momentum, group.nesterov, group.dampening, group.weightDecay],
      [0.1, 0.9, true, 0, g === 0 ? 5e-4 : 0],
    );
    for (const { name } of group.params) {
      assertEquals(decay.has(name), g === 0, `${name} in group ${g}`);
    }
  }
  assertEquals(optimizer.namedParameters().length, model.namedParameters().length);
  // One-cycle: 0.1/25 at the start, the peak 0.1 after a quarter of the steps, momentum held.
  const schedule = makeSchedule(flags, 1000)!;
  assertClose([schedule.lr(0, 0.1), schedule.lr(249, 0.1), schedule.lr(999, 0.1)], [
    0.004,
    0.1,
    0.1 / 25 / 1e4,
  ], { atol: 1e-12, rtol: 1e-9 });
  assert(schedule.lr(240, 0.1) < 0.1 && schedule.lr(260, 0.1) < 0.1);
  assertEquals(schedule.momentum?.(500), undefined);
  assertEquals(makeLoss(flags).labelSmoothing, 0.1);
  // The article's recipe keeps one group, full decay and no smoothing.
  const article = parseTrainFlags([], MODELS);
  assertEquals(makeOptimizer(article, model).groups.length, 1);
  assertEquals(makeLoss(article).labelSmoothing, 0);
  model.dispose();
});

Deno.test("train.ts --recipe fast: 3 steps on a tiny tree, the recipe in metrics.json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hajime_fast_recipe_" });
  try {
    const data = join(dir, "data");
    await writeImageFolder(new Generator(testSeed("fast recipe")), data, CIFAR10_CLASSES, {
      train: 4,
      test: 2,
    });
    const out = join(dir, "out");
    const run = await runExample("examples/train.ts", [
      "--recipe=fast",
      `--data=${data}`,
      "--epochs=1",
      "--batch-size=16", // 40 images: 3 steps
      "--log-every=1",
      `--out=${out}`,
    ], { HAJIME_CACHE_DIR: join(dir, "cache"), HAJIME_AUTOTUNE: "0" });
    assertEquals(run.code, 0, run.stderr);
    assert(run.stdout.includes("parameters: 1,965,066"), run.stdout);
    assert(run.stdout.includes("training 1 epochs of 3 steps (batch 16)"), run.stdout);
    const metrics = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    assertEquals(metrics.flags, {
      ...FAST,
      epochs: 1,
      batchSize: 16,
      logEvery: 1,
      data,
      out,
      given: [...FAST.given, "data"],
    });
    const flags: TrainFlags = metrics.flags;
    const schedule = makeSchedule(flags, 3)!;
    assertEquals(metrics.steps.map((s: { globalStep: number }) => s.globalStep), [1, 2, 3]);
    assertClose(
      metrics.steps.map((s: { lr: number }) => s.lr),
      [0, 1, 2].map((step) => schedule.lr(step, 0.1)),
      { atol: 0, rtol: 1e-12 },
    );
    for (const s of metrics.steps) assert(Number.isFinite(s.loss) && s.loss > 0, JSON.stringify(s));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train.ts --time-limit: stops after the step it ran out in, evaluates that model, reports", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hajime_time_limit_" });
  try {
    const data = join(dir, "data");
    await writeImageFolder(new Generator(testSeed("time limit")), data, CIFAR10_CLASSES, {
      train: 4,
      test: 1,
    });
    const out = join(dir, "out");
    const run = await runExample("examples/train.ts", [
      "--model=basic-cnn",
      `--data=${data}`,
      "--epochs=100",
      "--batch-size=8", // 40 images: 5 steps an epoch, 500 planned
      "--log-every=1",
      "--time-limit=0.001", // out before the first step ends
      `--out=${out}`,
    ], { HAJIME_CACHE_DIR: join(dir, "cache"), HAJIME_AUTOTUNE: "0" });
    assertEquals(run.code, 0, run.stderr);
    assert(
      run.stdout.includes("time limit: 0.001 s reached after 1 of 500 steps (0.20 of 100 epochs)"),
      run.stdout,
    );
    assert(run.stdout.includes("Accuracy on 10 test images: "), run.stdout);
    const metrics = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    assertEquals(metrics.flags.timeLimit, 0.001);
    assertEquals(metrics.steps.map((s: { globalStep: number }) => s.globalStep), [1]);
    assertEquals(metrics.epochs, [], "no epoch ended");
    const counted = metrics.confusion.flat().reduce((a: number, b: number) => a + b, 0);
    assertEquals(counted, 10, "the stopped model was evaluated on every test image");
    assert(Number.isFinite(metrics.validationLoss), JSON.stringify(metrics.validationLoss));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseTrainFlags: every bad flag or value is a FlagError naming the flag", () => {
  const cases: [string[], string][] = [
    [["--epochs", "abc"], "--epochs"],
    [["--epochs", "0"], "--epochs"],
    [["--epochs=-1"], "--epochs"],
    [["--epochs", "1.5"], "--epochs"],
    [["--epochs", ""], "--epochs"],
    [["--epochs"], "--epochs"],
    [["--batch-size", "0"], "--batch-size"],
    [["--batch-size", "many"], "--batch-size"],
    [["--lr", "0"], "--lr"],
    [["--lr=-0.1"], "--lr"],
    [["--lr", "-0.1"], "--lr"],
    [["--lr", "fast"], "--lr"],
    [["--lr", "Infinity"], "--lr"],
    [["--momentum=-0.5"], "--momentum"],
    [["--weight-decay=-1"], "--weight-decay"],
    [["--weight-decay", "NaN"], "--weight-decay"],
    [["--seed=-1"], "--seed"],
    [["--seed", "0.5"], "--seed"],
    [["--log-every", "0"], "--log-every"],
    [["--max-steps", "0"], "--max-steps"],
    [["--time-limit", "0"], "--time-limit"],
    [["--time-limit=-5"], "--time-limit"],
    [["--time-limit", "soon"], "--time-limit"],
    [["--train-limit=-5"], "--train-limit"],
    [["--test-limit", "all"], "--test-limit"],
    [["--optimizer", "rmsprop"], "--optimizer"],
    [["--schedule", "linear"], "--schedule"],
    [["--augment", "mixup"], "--augment"],
    [["--model", "vgg"], "--model"],
    [["--recipe", "imagenet"], "--recipe"],
    [["--label-smoothing", "1.5"], "--label-smoothing"],
    [["--label-smoothing=-0.1"], "--label-smoothing"],
    [["--pct-start", "0"], "--pct-start"],
    [["--pct-start", "2"], "--pct-start"],
    [["--bogus"], "--bogus"],
    [["--normalize=yes"], "--normalize"],
    [["stray"], "stray"],
    [["--nesterov"], "--nesterov"],
    [["--optimizer", "sgd", "--nesterov"], "--nesterov"],
    [["--optimizer", "adamw", "--momentum", "0.9", "--nesterov"], "--nesterov"],
    [["--resume", "r.safetensors", "--lr-find"], "--lr-find"],
    [["--lr", "0.1", "--override", "lr"], "--override: only means something with --resume"],
    [["--checkpoint-every", "50"], "--checkpoint-every: give --checkpoint too"],
    [["--checkpoint", "c", "--checkpoint-every", "0"], "--checkpoint-every"],
    [["--resume", "r", "--model", "resnet", "--override", "model"], '"model" cannot be overridden'],
    [["--resume", "r", "--override", "lr"], "--override lr: give --lr too"],
    [["--resume", "r", "--lr", "0.1", "--override", "lr,speed"], '"speed" cannot be overridden'],
  ];
  for (const [args, flag] of cases) assertFlagError(() => parseTrainFlags(args, MODELS), flag);
});

/** A checkpoint's recipe: conv-bn-net, SGD 0.1 with a cosine schedule over 2 epochs of 10 steps. */
const RECIPE: Recipe = {
  model: "conv-bn-net",
  optimizer: { type: "sgd", lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  schedule: { type: "cosine", totalSteps: 20 },
  epochs: 2,
  stepsPerEpoch: 10,
  maxSteps: 10,
  batchSize: 16,
  augment: "crop-flip",
  normalize: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
  classes: [...CIFAR10_CLASSES],
  imageSize: [32, 32],
  seed: 3,
  data: {
    source: "/data/cifar",
    trainLimit: 160,
    testLimit: null,
    train: { images: 160, sha256: "ab", root: "/data/cifar/train" },
    test: { images: 10000, sha256: "cd", root: "/data/cifar/test" },
  },
};

Deno.test("resumeFlags: the checkpoint's recipe where no flag is given, contradictions named", () => {
  const resume = (args: string[], recipe = RECIPE) =>
    resumeFlags(parseTrainFlags(["--resume", "ck", ...args], MODELS), recipe, "ck");
  const taken = resume([]);
  assertEquals(
    [taken.model, taken.optimizer, taken.lr, taken.momentum, taken.nesterov, taken.weightDecay],
    ["conv-bn-net", "sgd", 0.1, 0.9, true, 5e-4],
  );
  assertEquals(
    [taken.schedule, taken.epochs, taken.maxSteps, taken.batchSize, taken.augment],
    ["cosine", 2, 10, 16, "crop-flip"],
  );
  assertEquals([taken.normalize, taken.seed, taken.data, taken.trainLimit, taken.testLimit], [
    true,
    3,
    "/data/cifar",
    160,
    null,
  ]);
  assertEquals(resume(["--lr", "0.1", "--batch-size", "16"]).lr, 0.1, "agreeing flags are fine");
  assertEquals(resume(["--data", "/moved"]).data, "/moved", "data is checked by content");

  // The cosine schedule was planned for 2 epochs: more is a contradiction unless overridden.
  assertFlagError(() => resume(["--epochs", "3"]), "--epochs 3 contradicts the checkpoint's 2");
  assertFlagError(() => resume(["--epochs", "3"]), "pass --override epochs");
  assertEquals(resume(["--epochs", "3", "--override", "epochs"]).epochs, 3);
  // Without a schedule, more epochs equal a longer run: no contradiction.
  const constant = { ...RECIPE, schedule: { type: "none", totalSteps: 20 } };
  assertEquals(resume(["--epochs", "3"], constant).epochs, 3);

  const error = assertThrows(() => resume(["--lr", "0.01", "--model", "resnet", "--normalize"]));
  assert(error instanceof FlagError);
  for (
    const text of [
      "--lr 0.01 contradicts the checkpoint's 0.1",
      "--model resnet contradicts the checkpoint's conv-bn-net (cannot be overridden)",
      "or pass --override lr",
    ]
  ) {
    assert(error.message.includes(text), `${text}: ${error.message}`);
  }
  assertEquals(resume(["--lr", "0.01", "--override", "lr"]).lr, 0.01);

  // The one-cycle and loss flags of `--recipe fast` resume too, and contradict like the rest.
  const fast: Recipe = {
    ...RECIPE,
    optimizer: { ...RECIPE.optimizer, decayBnBias: false },
    schedule: { type: "onecycle", totalSteps: 20, pctStart: 0.25, cycleMomentum: false },
    labelSmoothing: 0.1,
  };
  const resumedFast = resume([], fast);
  assertEquals(
    [
      resumedFast.pctStart,
      resumedFast.cycleMomentum,
      resumedFast.decayBnBias,
      resumedFast.labelSmoothing,
    ],
    [0.25, false, false, 0.1],
  );
  assertFlagError(
    () => resume(["--label-smoothing", "0"], fast),
    "--label-smoothing 0 contradicts the checkpoint's 0.1",
  );
  assertEquals(
    resume(["--label-smoothing", "0", "--override", "label-smoothing"], fast)
      .labelSmoothing,
    0,
  );
  // A checkpoint from before these were recorded ran with the values then fixed.
  const old = resume([]);
  assertEquals([old.pctStart, old.cycleMomentum, old.decayBnBias, old.labelSmoothing], [
    0.3,
    true,
    true,
    0,
  ]);
  assertFlagError(
    () => resume(["--no-cycle-momentum"]),
    "--no-cycle-momentum off contradicts the checkpoint's on",
  );
});

/** Every flag issue 5 asks for, plus the quick-run ones. */
const TRAIN_FLAGS = [
  "--model",
  "--recipe",
  "--epochs",
  "--batch-size",
  "--optimizer",
  "--lr",
  "--momentum",
  "--nesterov",
  "--weight-decay",
  "--schedule",
  "--pct-start",
  "--no-cycle-momentum",
  "--no-decay-bn-bias",
  "--label-smoothing",
  "--augment",
  "--normalize",
  "--data",
  "--no-download",
  "--skip-broken",
  "--clear-cache",
  "--seed",
  "--checkpoint",
  "--checkpoint-every",
  "--resume",
  "--out",
  "--lr-find",
  "--log-every",
  "--max-steps",
  "--time-limit",
  "--train-limit",
  "--test-limit",
  "--override",
  "--help",
];

Deno.test("train.ts: --help exits 0 listing every flag and model; bad flags exit 2", async () => {
  const [help, ...bad] = await Promise.all([
    runExample("examples/train.ts", ["--help"]),
    runExample("examples/train.ts", ["--epochs", "zero"]),
    runExample("examples/train.ts", ["--optimizer", "rmsprop"]),
    runExample("examples/train.ts", ["--bogus"]),
    runExample("examples/train.ts", ["--data", "/nonexistent/cifar"]),
  ]);
  assertEquals(help.code, 0, help.stderr);
  for (const flag of TRAIN_FLAGS) assert(help.stdout.includes(flag), `--help lacks ${flag}`);
  for (const model of MODELS) assert(help.stdout.includes(model), `--help lacks ${model}`);
  // The help lists no flag the parser rejects (--allow-* are Deno's permission flags).
  for (const [flag] of help.stdout.matchAll(/--(?!allow-)[a-z][a-z-]*/g)) {
    assert(TRAIN_FLAGS.includes(flag), `--help lists ${flag}, which the test does not know`);
  }
  const flags = ["--epochs", "--optimizer", "--bogus", "--data"];
  bad.forEach((result, i) => {
    assertEquals(result.code, 2, `${flags[i]}: ${result.stderr}`);
    assert(
      result.stderr.includes("error: ") && result.stderr.includes(flags[i]),
      `the message names ${flags[i]}: ${result.stderr}`,
    );
    assertEquals(result.stdout.includes("epoch:"), false, "no training ran");
  });
});

Deno.test("parsePredictFlags: defaults, and each bad value a FlagError naming the flag", () => {
  assertEquals(parsePredictFlags(["--checkpoint", "c.safetensors", "a.png", "dir"], MODELS), {
    checkpoint: "c.safetensors",
    model: null,
    classes: null,
    normalize: false,
    paths: ["a.png", "dir"],
    batchSize: 64,
    help: false,
  });
  const custom = parsePredictFlags(
    ["--checkpoint=c", "--model=basic-cnn", "--classes", "cat, dog", "--normalize", "x.jpg"],
    MODELS,
  );
  assertEquals(
    [custom.model, custom.classes, custom.normalize],
    ["basic-cnn", ["cat", "dog"], true],
  );
  assertEquals(parsePredictFlags(["--help"], MODELS).help, true);
  const ok = ["--checkpoint", "c", "x.png"];
  const cases: [string[], string][] = [
    [["x.png"], "--checkpoint"],
    [["--checkpoint", "c"], "no images"],
    [[...ok, "--model", "vgg"], "--model"],
    [[...ok, "--classes", "a"], "--classes"],
    [[...ok, "--classes", "a,,b"], "--classes"],
    [[...ok, "--classes", "a,b,a"], "--classes"],
    [[...ok, "--batch-size", "0"], "--batch-size"],
    [[...ok, "--batch-size", "two"], "--batch-size"],
    [[...ok, "--bogus"], "--bogus"],
  ];
  for (const [args, flag] of cases) assertFlagError(() => parsePredictFlags(args, MODELS), flag);
});

Deno.test("softmaxRows and topK", () => {
  assertClose(softmaxRows([0, Math.log(3)], 2), [0.25, 0.75], { atol: 1e-15 });
  // Shifted by the row maximum: no overflow.
  assertClose(softmaxRows([1000, 1000, -1000, 0], 2), [0.5, 0.5, 0, 1], { atol: 1e-15 });
  // log_softmax heads: softmax of log-probabilities gives them back.
  const p = [0.1, 0.2, 0.3, 0.4];
  assertClose(softmaxRows(p.map(Math.log), 4), p, { atol: 1e-15 });
  assertThrows(() => softmaxRows([1, 2, 3], 2), "rows of 2");
  assertEquals(topK([0.1, 0.4, 0.1, 0.4], 3), [[1, 0.4], [3, 0.4], [0, 0.1]]);
  assertEquals(topK([0.5, 0.5], 3), [[0, 0.5], [1, 0.5]]);
});

Deno.test("listImageFiles and loadImages: folders recursively, errors naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hajime_predict_" });
  try {
    const rng = new Generator(testSeed("listImageFiles"));
    const png = pngBytes(randomPixels(rng, 32, 32), 32, 32, 3);
    await writeTree(dir, {
      "a/x.png": png,
      "a/b/z.JPEG": await jpegBytes(randomPixels(rng, 32, 32), 32, 32),
      "a/b/y.jpg": await jpegBytes(randomPixels(rng, 32, 32), 32, 32),
      "a/notes.txt": new TextEncoder().encode("not an image"),
      "single.png": png,
      "small.png": pngBytes(randomPixels(rng, 16, 16), 16, 16, 3),
      "fake.png": new TextEncoder().encode("not a png"),
    });
    await Deno.mkdir(join(dir, "empty"));
    const files = listImageFiles([join(dir, "a"), join(dir, "single.png")]);
    assertEquals(
      files,
      ["a/b/y.jpg", "a/b/z.JPEG", "a/x.png", "single.png"].map((f) => join(dir, f)),
    );
    assertFlagError(() => listImageFiles([join(dir, "missing.png")]), "missing.png");
    assertFlagError(() => listImageFiles([join(dir, "empty")]), "empty: no .jpg");

    await imageDecodersReady();
    const pixels = loadImages(files);
    assertEquals(pixels.length, 4 * 32 * 32 * 3);
    assertEquals(pixels.subarray(2 * 3072, 3 * 3072), pixels.subarray(3 * 3072)); // same PNG
    assertThrows(() => loadImages([files[0], join(dir, "small.png")]), "small.png: image is 16×16");
    assertThrows(() => loadImages([join(dir, "fake.png")]), "fake.png: not a JPEG or PNG");
    assertThrows(() => loadImages([join(dir, "gone.png")]), "gone.png: cannot read");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** ToTensor (and Normalize) on the CPU: packed u8 [N, H, W, 3] to f32 [N, 3, H, W]. */
function toTensorCpu(pixels: Uint8Array, n: number, normalize: boolean): Float32Array {
  const out = new Float32Array(n * 3 * 1024);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const mean = normalize ? CIFAR_NORMALIZE.mean[c] : 0;
      const std = normalize ? CIFAR_NORMALIZE.std[c] : 1;
      for (let p = 0; p < 1024; p++) {
        out[(i * 3 + c) * 1024 + p] = (pixels[(i * 1024 + p) * 3 + c] / 255 - mean) / std;
      }
    }
  }
  return out;
}

Deno.test("predict: eval mode, batched, softmax of the model on a CPU-built input", async () => {
  const rng = new Generator(testSeed("predict"));
  const n = 7; // batches of 3, 3 and 1
  const pixels = randomPixels(rng, n * 32, 32);
  // BatchNorm: train mode would normalise each batch by its own statistics.
  const model = createModel("conv-bn-net", { seed: rng.int(1000) });
  assert(model.training);
  for (const normalize of [false, true]) {
    const { probabilities, classes } = await predict(model, pixels, n, {
      normalize,
      batchSize: 3,
    });
    assertEquals(classes, 10);
    assert(model.training, "predict puts the model's mode back");
    model.eval();
    const x = Tensor.from(toTensorCpu(pixels, n, normalize), [n, 3, 32, 32]);
    const expected = softmaxRows(await model.forward(x).read(), 10);
    x.dispose();
    model.train();
    assertClose(probabilities, expected, { atol: 1e-5, rtol: 1e-4, message: `${normalize}` });
  }
  await assertRejects(() => predict(model, pixels, n + 1), "images has");
  await assertRejects(() => predict(model, pixels, n, { batchSize: 0 }), "batchSize");
});

Deno.test("loadWeights and classifyFiles: checkpoints and weight files, bad inputs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hajime_predict_" });
  try {
    const rng = new Generator(testSeed("classifyFiles"));
    const files = [0, 1, 2].map((i) => join(dir, `${i}.png`));
    await writeTree(
      dir,
      Object.fromEntries(
        files.map((f) => [f.slice(dir.length + 1), pngBytes(randomPixels(rng, 32, 32), 32, 32, 3)]),
      ),
    );
    const trained = createModel("basic-cnn", { seed: 1 });
    const weights = join(dir, "weights.safetensors");
    const checkpoint = join(dir, "checkpoint.safetensors");
    await saveModelWeights(weights, trained);
    await saveCheckpoint(checkpoint, {
      model: trained,
      optimizer: new Adam(trained, { lr: 0.003 }),
      trainState: { epoch: 1, step: 0, globalStep: 10 },
      generators: { data: new Generator(0) },
    });
    const expected = await classifyFiles(trained, files, { classNames: CIFAR10_CLASSES });
    for (const path of [weights, checkpoint]) {
      const model = createModel("basic-cnn", { seed: 2 });
      await loadWeights(path, model, "basic-cnn");
      assertEquals(await classifyFiles(model, files, { classNames: CIFAR10_CLASSES }), expected);
    }
    for (const prediction of expected) {
      assertEquals(prediction.top.length, 3);
      const line = formatPrediction(prediction);
      assert(line.startsWith(`${prediction.file}: ${prediction.top[0].name} 0.`), line);
    }
    await assertRejects(
      () => loadWeights(join(dir, "nope.safetensors"), createModel("basic-cnn"), "basic-cnn"),
      "--checkpoint: ",
    );
    const error = await assertRejects(
      () => loadWeights(checkpoint, createModel("resnet"), "resnet"),
      "does not fit --model resnet",
    );
    assert(error.message.split("\n").length <= 12, "the mismatch list is cut short");
    await assertRejects(
      () => classifyFiles(trained, files, { classNames: ["cat", "dog"] }),
      "--classes: 2 class names given, but the model has 10 outputs",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Copies the first `perClass` images of each class of ../shared/cifar10/<split> into `dir`. */
async function copySlice(split: string, dir: string, perClass: number): Promise<void> {
  for (const { name } of Deno.readDirSync(join(CIFAR, split))) {
    const from = join(CIFAR, split, name);
    const to = join(dir, split, name);
    await Deno.mkdir(to, { recursive: true });
    const files = [...Deno.readDirSync(from)].map((e) => e.name).sort().slice(0, perClass);
    for (const file of files) await Deno.copyFile(join(from, file), join(to, file));
  }
}

Deno.test({
  name: "train.ts on a slice of ../shared/cifar10 writes a complete report; predict.ts uses it",
  ignore: !HAS_CIFAR,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "hajime_train_example_" });
    const out = join(dir, "out");
    const checkpoint = join(dir, "ckpt.safetensors");
    try {
      await copySlice("train", dir, 20);
      await copySlice("test", dir, 12);

      await t.step("train.ts: 2 epochs of 10 steps, the article's lines, the report", async () => {
        const run = await runExample("examples/train.ts", [
          "--model=basic-cnn",
          `--data=${dir}`,
          "--epochs=2",
          "--batch-size=4",
          "--max-steps=10",
          "--log-every=5",
          "--train-limit=120",
          "--test-limit=100",
          `--out=${out}`,
          `--checkpoint=${checkpoint}`,
        ], { HAJIME_CACHE_DIR: join(dir, "cache") });
        assertEquals(run.code, 0, run.stderr);
        const stdout = run.stdout;
        assert(stdout.includes("data: 120 training and 100 test images"), stdout);
        assert(stdout.includes("parameters: 62,958"), stdout);
        for (const line of ["epoch:1, step:5, loss:", "epoch:1, step:10, loss:"]) {
          assert(stdout.includes(line), `"${line}" is printed:\n${stdout}`);
        }
        assert(stdout.includes("epoch:2, step:10, loss:"), stdout);
        assertEquals(stdout.includes("step:15"), false, "--max-steps caps each epoch");

        const metrics = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
        assertEquals(Object.keys(metrics).sort(), [
          "adapter",
          "classes",
          "confusion",
          "epochs",
          "flags",
          "model",
          "parameters",
          "perClassAccuracy",
          "seed",
          "steps",
          "testAccuracy",
          "validationLoss",
          "wallSeconds",
        ]);
        assertEquals(
          [metrics.model, metrics.parameters, metrics.seed, metrics.flags.maxSteps],
          ["basic-cnn", 62958, 0, 10],
        );
        assert(typeof metrics.adapter === "string" && metrics.adapter.length > 0);
        assertEquals(
          metrics.steps.map((s: { epoch: number; step: number; globalStep: number }) => [
            s.epoch,
            s.step,
            s.globalStep,
          ]),
          [[1, 5, 5], [1, 10, 10], [2, 5, 15], [2, 10, 20]],
        );
        for (const s of metrics.steps) {
          assert(Number.isFinite(s.loss) && s.loss > 0 && s.lr === 0.003, JSON.stringify(s));
        }
        assertEquals(metrics.epochs.map((e: { epoch: number }) => e.epoch), [1, 2]);
        for (const e of metrics.epochs) {
          assert(
            Number.isFinite(e.trainLoss) && Number.isFinite(e.validationLoss) &&
              e.testAccuracy >= 0 && e.testAccuracy <= 100 && e.imagesPerSecond > 0,
            JSON.stringify(e),
          );
        }
        assertEquals(metrics.classes, [...CIFAR10_CLASSES]);
        assertEquals(metrics.perClassAccuracy.length, 10);
        assertEquals(metrics.confusion.length, 10);
        let total = 0;
        let correct = 0;
        metrics.confusion.forEach((row: number[], i: number) => {
          assertEquals(row.length, 10);
          for (const count of row) assert(Number.isInteger(count) && count >= 0);
          total += row.reduce((a, b) => a + b, 0);
          correct += row[i];
        });
        assertEquals(total, 100, "the confusion matrix counts every test image");
        assertClose([metrics.testAccuracy], [correct], { atol: 1e-9 }); // 100 images: % = count
        assertEquals(metrics.epochs[1].testAccuracy, metrics.testAccuracy);
        assert(metrics.wallSeconds > 0);
        const results = `Accuracy on 100 test images: ${metrics.testAccuracy.toFixed(2)} %, ` +
          `validation loss: ${metrics.validationLoss.toFixed(4)}`;
        assert(stdout.includes(results), `"${results}" is printed:\n${stdout}`);

        const curves = await Deno.readTextFile(join(out, "curves.svg"));
        const confusion = await Deno.readTextFile(join(out, "confusion.svg"));
        assertEquals(checkXml(curves), "svg");
        assertEquals(checkXml(confusion), "svg");
        assertEquals(curves.match(/<path /g)?.length, 7, "one line per series");
        for (const name of CIFAR10_CLASSES) assert(confusion.includes(`>${name}</text>`), name);
        const html = await Deno.readTextFile(join(out, "report.html"));
        assert(html.startsWith("<!doctype html>") && html.trimEnd().endsWith("</html>"));
        for (const title of curves.matchAll(/font-size="13">([^<]+)<\/text>/g)) {
          assert(html.includes(title[0]), `report.html has the chart "${title[1]}"`);
        }
        assert(html.includes(confusion.trim()), "report.html holds confusion.svg");
        assertEquals(html.match(/<table>/g)?.length, 2);
        assertEquals(html.match(/<\/table>/g)?.length, 2);
        assert(html.includes("<h2>Epochs</h2>") && html.includes("<h2>Per-class accuracy</h2>"));
        assertEquals(html.match(/<tr><td>/g)?.length, 2 + 10, "2 epoch rows, 10 class rows");

        const saved = await readSafetensors(checkpoint);
        assertEquals(
          [saved.metadata.epoch, saved.metadata.step, saved.metadata.global_step],
          ["2", "0", "20"],
        );
      });

      await t.step(
        "predict.ts: top-3 lines for files and a folder; wrong size names the file",
        async () => {
          const cats = join(dir, "test", "cat");
          const files = [
            join(dir, "test", "ship", "0000.jpg"),
            join(dir, "test", "dog", "0001.jpg"),
          ];
          const run = await runExample("examples/predict.ts", [
            "--model",
            "basic-cnn",
            "--checkpoint",
            checkpoint,
            ...files,
            cats,
          ]);
          assertEquals(run.code, 0, run.stderr);
          const lines = run.stdout.trim().split("\n");
          const expectedFiles = [
            ...files,
            ...[...Deno.readDirSync(cats)].map((e) => join(cats, e.name)).sort(),
          ];
          assertEquals(lines.length, expectedFiles.length, run.stdout);
          const pattern = /^(.+): (\w+) (\d\.\d{4}), (\w+) (\d\.\d{4}), (\w+) (\d\.\d{4})$/;
          lines.forEach((line, i) => {
            const match = pattern.exec(line);
            assert(match, `a top-3 line: ${line}`);
            assertEquals(match[1], expectedFiles[i]);
            const names = [match[2], match[4], match[6]];
            const p = [match[3], match[5], match[7]].map(Number);
            assert(names.every((name) => CIFAR10_CLASSES.includes(name)), line);
            assertEquals(new Set(names).size, 3, line);
            assert(p[0] >= p[1] && p[1] >= p[2] && p[2] >= 0, `sorted: ${line}`);
            assert(p[0] + p[1] + p[2] <= 1 + 1.5e-4, `sum ≤ 1: ${line}`);
          });

          const small = join(dir, "small.png");
          await Deno.writeFile(small, pngBytes(new Uint8Array(16 * 16 * 3), 16, 16, 3));
          const wrong = await runExample("examples/predict.ts", [
            "--model=basic-cnn",
            `--checkpoint=${checkpoint}`,
            files[0],
            small,
          ]);
          assertEquals(wrong.code, 1, wrong.stderr);
          assert(wrong.stderr.includes(`${small}: image is 16×16, expected 32×32`), wrong.stderr);
          assertEquals(wrong.stdout, "", "nothing is classified when a file is bad");
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
