/**
 * When something goes wrong, as a user meets it: examples/train.ts and examples/predict.ts run as
 * subprocesses on a tiny image tree (3 classes, 18 training and 9 test PNGs). Bad output paths
 * fail before any training; a checkpoint whose header was edited, flags that contradict its
 * recipe, other data and "nothing left to train" are one-line errors before training; a resumed
 * run equals an uninterrupted one and its report shows every epoch; predict.ts needs only the
 * checkpoint; a failure during training writes the report of what was done; leftover temporaries
 * are removed; a batch the adapter cannot bind is refused with the largest that fits.
 *
 * @module
 */

import { join } from "node:path";
import {
  createModel,
  Generator,
  initGpu,
  readRecipe,
  readSafetensors,
  saveModelWeights,
} from "../mod.ts";
import { assert, assertEquals } from "./assert.ts";
import { pngBytes, randomPixels, runExample, writeTree } from "./fixtures.ts";

const CLASSES = ["cat", "dog", "frog"];

/** A tiny ImageFolder root: 6 training and 3 test images per class, the same random pixels. */
async function tinyTree(root: string, classes = CLASSES): Promise<void> {
  const rng = new Generator(11);
  const files: Record<string, Uint8Array> = {};
  for (const [split, count] of [["train", 6], ["test", 3]] as const) {
    for (const name of classes) {
      for (let i = 0; i < count; i++) {
        files[`${split}/${name}/${i}.png`] = pngBytes(randomPixels(rng, 32, 32), 32, 32, 3);
      }
    }
  }
  await writeTree(root, files);
}

type Result = { code: number; stdout: string; stderr: string };

/** Exit `code` with one error line (the last on stderr, no stack trace) including `parts`. */
function assertOneLine(result: Result, code: number, ...parts: string[]): void {
  assertEquals(result.code, code, `exit code: ${result.stderr}\n${result.stdout}`);
  const lines = result.stderr.trim().split("\n");
  const errors = lines.filter((line) => /error|^\s+at /i.test(line));
  assertEquals(errors, [lines.at(-1)], `one error line: ${result.stderr}`);
  assert(errors[0].startsWith("error: "), errors[0]);
  for (const part of parts) assert(errors[0].includes(part), `names "${part}": ${errors[0]}`);
}

/** {@link assertOneLine}, and no training step ran. */
function assertOneLineError(result: Result, code: number, ...parts: string[]): void {
  assertOneLine(result, code, ...parts);
  assert(!result.stdout.includes("epoch:"), `no training ran:\n${result.stdout}`);
}

/** The tensors of a safetensors file as comparable rows (name, dtype, shape, bytes). */
async function tensorRows(path: string): Promise<[string, string, number[], Uint8Array][]> {
  const file = await readSafetensors(path);
  return [...file.tensors].map(([name, t]) => [
    name,
    t.dtype,
    t.shape,
    new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  ]);
}

/** A copy of `path` with the first `from` in its header replaced by `to` (same length). */
async function editHeader(path: string, to: string, from: string, copy: string): Promise<void> {
  const bytes = await Deno.readFile(path);
  const text = new TextDecoder("latin1").decode(bytes);
  const at = text.indexOf(from);
  assert(at > 8 && from.length === to.length, `the header holds ${from}`);
  bytes.set(new TextEncoder().encode(to), at);
  await Deno.writeFile(copy, bytes);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("train.ts and predict.ts: when something goes wrong, nothing done is lost", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hajime_recovery_" });
  const data = join(dir, "data");
  const env = { HAJIME_CACHE_DIR: join(dir, "cache") };
  const base = [
    "--model=basic-cnn",
    `--data=${data}`,
    "--batch-size=4",
    "--max-steps=2",
    "--log-every=1",
  ];
  const train = (args: string[], permissions?: string[]) =>
    runExample("examples/train.ts", [...base, ...args], env, permissions);
  const predict = (args: string[]) => runExample("examples/predict.ts", args, env);
  try {
    await tinyTree(data);
    const oneOut = join(dir, "one");
    const oneCheckpoint = join(oneOut, "ck", "checkpoint.safetensors"); // in a folder not made yet
    const twoCheckpoint = join(dir, "two", "checkpoint.safetensors");
    const saved = join(dir, "after-one-epoch.safetensors");

    await t.step("2: bad output paths fail in one line before anything runs", async () => {
      const file = join(dir, "a-file");
      await Deno.writeTextFile(file, "not a folder");
      await Deno.mkdir(join(dir, "a-folder"));
      const [outIsFile, outReadOnly, checkpointIsFolder] = await Promise.all([
        train([`--out=${file}`]),
        // A folder this process may not write to (as a read-only one, also for root).
        train([`--out=${join(dir, "locked", "run")}`], [
          "--no-prompt",
          "--allow-read",
          "--allow-env",
          `--allow-write=${join(dir, "elsewhere")}`,
        ]),
        train([`--out=${join(dir, "x")}`, `--checkpoint=${join(dir, "a-folder")}`]),
      ]);
      assertOneLineError(outIsFile, 2, "--out", file, "is a file, not a folder");
      assertOneLineError(outReadOnly, 2, "--out", "does not take new files");
      assertOneLineError(checkpointIsFolder, 2, "--checkpoint", "is a folder");
      for (const run of [outIsFile, outReadOnly, checkpointIsFolder]) {
        assert(!run.stdout.includes("adapter:"), `before any GPU work:\n${run.stdout}`);
      }
      assert(!exists(join(dir, "x")), "nothing is created for a run that cannot start");
    });

    await t.step(
      "a fresh run checkpoints into a new folder; a 2-epoch run to compare",
      async () => {
        const [one, two] = await Promise.all([
          train(["--epochs=1", `--out=${oneOut}`, `--checkpoint=${oneCheckpoint}`]),
          train(["--epochs=2", `--out=${join(dir, "two")}`, `--checkpoint=${twoCheckpoint}`]),
        ]);
        assertEquals(one.code, 0, one.stderr);
        assertEquals(two.code, 0, two.stderr);
        await Deno.copyFile(oneCheckpoint, saved);
        const recipe = readRecipe((await readSafetensors(saved)).metadata, saved)!;
        assertEquals(
          [recipe.model, recipe.optimizer.lr, recipe.epochs, recipe.schedule, recipe.classes],
          [
            "basic-cnn",
            0.003,
            1,
            { type: "none", totalSteps: 2, pctStart: 0.3, cycleMomentum: true },
            CLASSES,
          ],
        );
        assertEquals([recipe.data.train.images, recipe.data.test.images], [18, 9]);
      },
    );

    await t.step("4: an edited header, contradicting flags, other data: errors", async () => {
      const flipped = join(dir, "flipped.safetensors");
      await editHeader(saved, '\\"lr\\":9.003', '\\"lr\\":0.003', flipped);
      const renamed = join(dir, "renamed"); // the same images, one class renamed
      await tinyTree(renamed, ["cat", "dug", "frog"]);
      const out = `--out=${join(dir, "refused")}`;
      const renamedData = `--data=${renamed}`;
      const [header, lr, nothing, otherData] = await Promise.all([
        train([`--resume=${flipped}`, "--epochs=2", out]),
        train([`--resume=${saved}`, "--epochs=2", "--lr=0.01", out]),
        train([`--resume=${saved}`, out]),
        train([`--resume=${saved}`, "--epochs=2", renamedData, out]),
      ]);
      assertOneLineError(header, 1, flipped, "do not match the checksum");
      assertOneLineError(lr, 2, "--lr 0.01 contradicts the checkpoint's 0.003", "--override lr");
      assertOneLineError(nothing, 2, "trained 1 of 1 epochs", "nothing is left to train");
      assertOneLineError(
        otherData,
        2,
        "the classes are cat,dug,frog",
        "cat,dog,frog",
        "--override data",
      );
    });

    await t.step("4, 5, 8: resumed runs: equal to 2 epochs, every epoch reported", async () => {
      const stale = `${oneCheckpoint}.tmp-999999-left`;
      await Deno.writeTextFile(stale, "a write killed half-way");
      const overrideOut = join(dir, "override");
      const [resumed, overridden] = await Promise.all([
        train([
          `--resume=${oneCheckpoint}`,
          "--epochs=2",
          `--out=${oneOut}`,
          `--checkpoint=${oneCheckpoint}`,
        ]),
        train([
          `--resume=${saved}`,
          "--epochs=2",
          "--lr=0.01",
          "--override=lr",
          `--out=${overrideOut}`,
        ]),
      ]);
      assertEquals(resumed.code, 0, resumed.stderr);
      assertEquals(overridden.code, 0, overridden.stderr);
      assert(!exists(stale), "the leftover temporary is removed at the start");
      assertEquals(
        await tensorRows(oneCheckpoint),
        await tensorRows(twoCheckpoint),
        "--epochs 1 then --resume --epochs 2 (no schedule) equals a 2-epoch run",
      );
      const metrics = JSON.parse(await Deno.readTextFile(join(oneOut, "metrics.json")));
      assertEquals(metrics.epochs.map((e: { epoch: number }) => e.epoch), [1, 2]);
      assertEquals(
        metrics.steps.map((s: { epoch: number; step: number }) => [s.epoch, s.step]),
        [[1, 1], [1, 2], [2, 1], [2, 2]],
      );
      const html = await Deno.readTextFile(join(oneOut, "report.html"));
      assertEquals(html.match(/<tr><td>[12]<\/td>/g)?.length, 2, "both epochs in the report");
      const lrs = JSON.parse(await Deno.readTextFile(join(overrideOut, "metrics.json")));
      assertEquals(lrs.flags.lr, 0.01);
      assertEquals(lrs.steps.map((s: { lr: number }) => s.lr), [0.003, 0.003, 0.01, 0.01]);
    });

    await t.step("6: predict.ts needs only the checkpoint", async () => {
      await initGpu();
      const weights = join(dir, "weights.safetensors");
      await saveModelWeights(weights, createModel("basic-cnn"));
      const small = join(dir, "small.png");
      await Deno.writeFile(small, pngBytes(new Uint8Array(16 * 16 * 3), 16, 16, 3));
      const cats = join(data, "test", "cat");
      const [alone, wrongModel, noRecipe, wrongSize] = await Promise.all([
        predict([`--checkpoint=${saved}`, cats]),
        predict([`--checkpoint=${saved}`, "--model=resnet", cats]),
        predict([`--checkpoint=${weights}`, cats]),
        predict([`--checkpoint=${saved}`, small]),
      ]);
      assertEquals(alone.code, 0, alone.stderr);
      const lines = alone.stdout.trim().split("\n");
      assertEquals(lines.length, 3, alone.stdout);
      for (const line of lines) {
        assert(/^.+\.png: \S+ \d\.\d{4}, \S+ \d\.\d{4}, \S+ \d\.\d{4}$/.test(line), line);
        assert(CLASSES.some((name) => line.includes(` ${name} `)), `class names: ${line}`);
      }
      assertOneLineError(wrongModel, 2, "--model resnet contradicts the checkpoint's basic-cnn");
      assertOneLineError(noRecipe, 2, "--model", "no recipe");
      assertOneLineError(wrongSize, 1, `${small}: image is 16×16, expected 32×32`);
    });

    await t.step("8: a failure in training: one line, the report of what was done", async () => {
      const out = join(dir, "diverged");
      const [diverged, tooLarge] = await Promise.all([
        train(["--lr=1e30", "--max-steps=3", `--out=${out}`]),
        train(["--batch-size=100000000", `--out=${join(dir, "large")}`]),
      ]);
      assertOneLine(diverged, 1, "the loss is NaN", `${out}/report.html`);
      const metrics = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
      assertEquals(metrics.steps.map((s: { step: number }) => s.step), [1], "the step done");
      assert(exists(join(out, "report.html")));
      assertOneLineError(tooLarge, 2, "--batch-size 100000000", "the largest batch that fits is");
      assert(!tooLarge.stdout.includes("data:"), "refused before the data is loaded");
      const largest = Number(/fits is (\d+)/.exec(tooLarge.stderr)?.[1]);
      assert(largest >= 64 && largest < 100000000, tooLarge.stderr);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
