/**
 * Train and test class lists must agree: checkSameClasses on each kind of difference, and
 * examples/train.ts on a tiny image-folder tree whose test set has one class folder renamed, which
 * must stop with that difference named before any training.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { checkSameClasses, Generator } from "../mod.ts";
import { assert, assertEquals, assertThrows, testSeed } from "./assert.ts";
import { pngBytes, randomPixels, writeTree } from "./fixtures.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("checkSameClasses names the first difference: renamed, reordered, missing, extra", () => {
  const train = { classes: ["bird", "cat", "dog"], root: "/d/train" };
  checkSameClasses(train, { classes: ["bird", "cat", "dog"], root: "/d/test" });
  const cases: [string[], string][] = [
    [["bird", "kat", "dog"], 'test class 1 is "kat", train has "cat"'],
    [["bird", "dog", "cat"], 'test class 1 is "dog", train has "cat"'],
    [["bird", "cat"], 'train class 2 is "dog", test has only 2 classes'],
    [["bird", "cat", "dog", "emu"], 'test class 3 is "emu", train has only 3 classes'],
  ];
  for (const [classes, difference] of cases) {
    const error = assertThrows(() => checkSameClasses(train, { classes, root: "/d/test" }));
    assert(error.message.includes(difference), error.message);
    assert(error.message.includes("/d/test") && error.message.includes("/d/train"), error.message);
  }
});

Deno.test("train.ts stops before training when a test class folder is renamed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hajime-classes-test-" });
  try {
    const rng = new Generator(testSeed("train/test classes"));
    const files: Record<string, Uint8Array> = {};
    const image = () => pngBytes(randomPixels(rng, 32, 32), 32, 32, 3);
    for (const name of ["airplane", "bird", "cat", "dog"]) {
      for (const i of [0, 1]) files[`train/${name}/${i}.png`] = image();
      files[`test/${name === "dog" ? "kat" : name}/0.png`] = image();
    }
    await writeTree(dir, files);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "examples/train.ts", "--model=basic-cnn", `--data=${dir}`, "--epochs=1"],
      cwd: ROOT,
      env: { HAJIME_CACHE_DIR: join(dir, "cache") },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 1, stderr);
    assert(stderr.includes(`test class 3 is "kat", train has "dog"`), stderr);
    assert(stderr.includes(join(dir, "test")), stderr);
    assert(!stdout.includes("training") && !stdout.includes("epoch"), stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
