/**
 * examples/train.ts as a user meets it: a mistyped flag or value gets "did you mean", a broken
 * image's hint names `--skip-broken` and the flag leaves the image out, a run prints one results
 * line and where the decoded-image cache is and how big, `--clear-cache` deletes it; and the
 * permissions `--help` documents are enough (those runs get only them, not -A).
 *
 * @module
 */

import { join } from "node:path";
import { formatBytes } from "../src/data/progress.ts";
import { Generator } from "../mod.ts";
import {
  closest,
  editDistance,
  FlagError,
  parseTrainFlags,
  TRAIN_PERMISSIONS,
} from "../examples/train_flags.ts";
import { CIFAR10_CLASSES } from "../examples/predict_lib.ts";
import { assert, assertEquals, assertThrows, testSeed } from "./assert.ts";
import { runExample, writeImageFolder } from "./fixtures.ts";

const MODELS = ["very-basic-net", "basic-cnn", "resnet"];

Deno.test("editDistance counts insertions, deletions and substitutions", () => {
  const cases: [string, string, number][] = [
    ["", "", 0],
    ["", "abc", 3],
    ["abc", "", 3],
    ["--epoch", "--epochs", 1],
    ["--epochss", "--epochs", 1],
    ["--epocks", "--epochs", 1],
    ["adma", "adam", 2],
    ["kitten", "sitting", 3],
  ];
  for (const [a, b, distance] of cases) {
    assertEquals(editDistance(a, b), distance, `${a} → ${b}`);
    assertEquals(editDistance(b, a), distance, `${b} → ${a}`);
  }
  assertEquals(closest("--epoch", ["--lr", "--epochs", "--seed"]), "--epochs");
  assertEquals(closest("--lr-fnd", ["--lr", "--lr-find"]), "--lr-find");
  assertEquals(closest("--bogus", ["--lr", "--epochs", "--seed"]), null);
  assertEquals(closest("ab", ["xy"]), null, "two edits of a two-letter word is not a typo");
});

Deno.test("parseTrainFlags: a mistyped flag, choice or model suggests the closest", () => {
  const cases: [string[], string][] = [
    [["--epoch", "3"], "--epoch: unknown flag; did you mean --epochs?"],
    [["--epoch=3"], "--epoch: unknown flag; did you mean --epochs?"],
    [["--batchsize", "8"], "did you mean --batch-size?"],
    [["--skipbroken"], "did you mean --skip-broken?"],
    [["--clear-caches"], "did you mean --clear-cache?"],
    [
      ["--optimizer", "adma"],
      `--optimizer: "adma" is not one of adam, adamw, sgd; did you mean adam?`,
    ],
    [["--schedule", "cosin"], "did you mean cosine?"],
    [["--model", "resnt"], "did you mean resnet?"],
  ];
  for (const [args, message] of cases) {
    const error = assertThrows(() => parseTrainFlags(args, MODELS), message);
    assert(error instanceof FlagError, error.name);
  }
  for (const args of [["--bogus"], ["--optimizer", "rmsprop"]]) {
    const error = assertThrows(() => parseTrainFlags(args, MODELS), args[0]);
    assert(!error.message.includes("did you mean"), error.message);
  }
  const flags = parseTrainFlags(["--skip-broken", "--clear-cache"], MODELS);
  assertEquals([flags.skipBroken, flags.clearCache], [true, true]);
});

Deno.test("train.ts --epoch 3: exit 2, the message suggests --epochs, no GPU work", async () => {
  const run = await runExample("examples/train.ts", ["--epoch", "3"], {}, []);
  assertEquals(run.code, 2, run.stderr);
  assert(
    run.stderr.startsWith("error: --epoch: unknown flag; did you mean --epochs?\n"),
    run.stderr,
  );
  assertEquals(run.stdout, "");
});

Deno.test("train.ts --help documents the permissions it needs", async () => {
  const run = await runExample("examples/train.ts", ["--help"], {}, []);
  assertEquals(run.code, 0, run.stderr);
  assert(run.stdout.includes(`Usage: deno run ${TRAIN_PERMISSIONS} examples/train.ts`), run.stdout);
  for (const flag of TRAIN_PERMISSIONS.split(" ")) {
    assert(run.stdout.includes(`\n  ${flag.split("=")[0]} `), `--help explains ${flag}`);
  }
});

/** The decoded-image cache files in `dir`, with their sizes. */
function cacheFiles(dir: string): { name: string; size: number }[] {
  return [...Deno.readDirSync(dir)]
    .filter((e) => e.name.startsWith("imagefolder-"))
    .map((e) => ({ name: e.name, size: Deno.statSync(join(dir, e.name)).size }));
}

Deno.test("train.ts with only its documented permissions: --skip-broken, one results line, the cache, --clear-cache; predict.ts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hajime_cli_" });
  try {
    const data = join(dir, "data");
    await writeImageFolder(new Generator(testSeed("cli")), data, CIFAR10_CLASSES, {
      train: 4,
      test: 2,
    });
    // Sorted after the good images of its class, so the first image still sets the size.
    const broken = join(data, "train", "cat", "zz_broken.png");
    await Deno.writeTextFile(broken, "not a png");
    const cache = join(dir, "cache");
    await Deno.mkdir(cache);
    await Deno.writeTextFile(join(cache, "kernel-choices.json"), "{}");
    const env = { HAJIME_CACHE_DIR: cache, HAJIME_AUTOTUNE: "0" };
    const permissions = TRAIN_PERMISSIONS.split(" ");
    const args = [
      "--model=very-basic-net",
      `--data=${data}`,
      "--epochs=1",
      "--batch-size=8",
      "--log-every=2",
      "--no-download",
      `--out=${join(dir, "out")}`,
      `--checkpoint=${join(dir, "model.safetensors")}`,
    ];

    const refused = await runExample("examples/train.ts", args, env, permissions);
    assertEquals(refused.code, 1, refused.stderr);
    assert(refused.stderr.includes(broken), `the message names the file: ${refused.stderr}`);
    assert(
      refused.stderr.includes("pass --skip-broken") && !refused.stderr.includes("skipBroken"),
      `the hint names the flag: ${refused.stderr}`,
    );
    const errors = refused.stderr.split("\n").filter((l) => l.includes("error"));
    assertEquals(errors.length, 1, `one error line: ${refused.stderr}`);

    const run = await runExample("examples/train.ts", [...args, "--skip-broken"], env, permissions);
    assertEquals(run.code, 0, run.stderr);
    assert(run.stderr.includes(`skipping ${broken}`), run.stderr);
    assert(run.stdout.includes("data: 40 training and 20 test images"), run.stdout);
    const results = run.stdout.split("Finished training\n")[1].split("\n\n")[0].split("\n");
    assertEquals(results.length, 1, `one results line: ${results.join(" | ")}`);
    assert(
      /^Accuracy on 20 test images: \d+\.\d\d %, validation loss: \d\.\d{4}$/.test(results[0]),
    );
    const files = cacheFiles(cache);
    assertEquals(files.length, 2, "the training and the test set");
    const bytes = files.reduce((sum, f) => sum + f.size, 0);
    assert(bytes > 60 * 32 * 32 * 3, `${bytes} bytes`);
    const line = `decoded-image cache: ${cache}, 2 files, ${formatBytes(bytes)} ` +
      `(--clear-cache deletes them)`;
    assert(run.stdout.includes(line), `"${line}" in:\n${run.stdout}`);

    // predict.ts needs to read only.
    const predicted = await runExample(
      "examples/predict.ts",
      [
        "--model=very-basic-net",
        `--checkpoint=${join(dir, "model.safetensors")}`,
        join(data, "test", "ship"),
      ],
      env,
      ["--allow-read"],
    );
    assertEquals(predicted.code, 0, predicted.stderr);
    assertEquals(predicted.stdout.trim().split("\n").length, 2, predicted.stdout);

    const cleared = await runExample("examples/train.ts", ["--clear-cache"], env, permissions);
    assertEquals(cleared.code, 0, cleared.stderr);
    assertEquals(
      cleared.stdout.trim(),
      `decoded-image cache: deleted 2 files (${formatBytes(bytes)}) from ${cache}`,
    );
    assertEquals(cacheFiles(cache), []);
    assert(Deno.statSync(join(cache, "kernel-choices.json")).isFile, "other files stay");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
