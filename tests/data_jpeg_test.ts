/**
 * JPEG decoding equals PIL's (libjpeg-turbo with its defaults, as torchvision uses it): on the
 * fixtures PIL wrote and decoded (tests/fixtures/pil_jpeg: 4:2:0 at even and odd sizes,
 * progressive and optimised 4:2:0, 4:2:2, 4:4:4, grey), and, where ../shared/cifar10 and a
 * python3 with PIL are present, on a sample of the CIFAR-10 JPEGs decoded by PIL at test time, in
 * the workers imageFolder uses. Broken JPEGs are errors naming the file, and thousands of them
 * leave the decoder exact.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeImage } from "../mod.ts";
import { imageFolder } from "../src/data/image_folder.ts";
import { decodeJpeg, jpegDecoderReady } from "../src/data/jpeg.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { writeTree } from "./fixtures.ts";

await jpegDecoderReady();

const FIXTURES = fileURLToPath(new URL("./fixtures/pil_jpeg/", import.meta.url));
const CIFAR = fileURLToPath(new URL("../../shared/cifar10/", import.meta.url));

/** The largest absolute difference between two byte arrays of one length. */
function maxDifference(a: Uint8Array, b: Uint8Array): number {
  assertEquals(a.length, b.length, "lengths");
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

Deno.test("every fixture decodes to PIL's bytes exactly", async () => {
  const names = [...Deno.readDirSync(FIXTURES)].map((e) => e.name).filter((n) => n.endsWith(".jpg"))
    .sort();
  assertEquals(names.length, 7, "fixtures present");
  for (const name of names) {
    const path = join(FIXTURES, name);
    const image = decodeImage(await Deno.readFile(path), path);
    const [width, height] = name.replace(/^.*_(\d+)x(\d+)\.jpg$/, "$1 $2").split(" ").map(Number);
    assertEquals([image.width, image.height], [width, height], name);
    const pil = await Deno.readFile(path.replace(/\.jpg$/, ".rgb"));
    assertEquals(maxDifference(image.data, pil), 0, `${name}: max difference from PIL`);
  }
});

/** A python3 that has PIL, or null. */
function pythonWithPil(): string | null {
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      const run = new Deno.Command(python, { args: ["-c", "import PIL"], stderr: "null" })
        .outputSync();
      if (run.success) return python;
    } catch {
      // not installed
    }
  }
  return null;
}

const PYTHON = pythonWithPil();
let hasCifar = false;
try {
  hasCifar = Deno.statSync(join(CIFAR, "test", "cat", "0000.jpg")).isFile;
} catch {
  // absent: the CIFAR-10 comparison is skipped
}
if (!PYTHON || !hasCifar) {
  console.warn(
    `data_jpeg_test: ${PYTHON ? `${CIFAR} is absent` : "no python3 with PIL"}: the comparison ` +
      `with PIL on CIFAR-10 files is skipped (the committed fixtures are still compared)`,
  );
}

Deno.test({
  name: "CIFAR-10 JPEGs decoded in imageFolder's workers equal PIL's decoding of them",
  ignore: !PYTHON || !hasCifar,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hajime-jpeg-test-" });
    try {
      // 20 files per class from each split: 400 images, both splits, every class.
      const files: Record<string, Uint8Array> = {};
      for (const split of ["train", "test"]) {
        for (const cls of [...Deno.readDirSync(join(CIFAR, split))].map((e) => e.name)) {
          for (let i = 0; i < 20; i++) {
            const name = `${cls}/${split}_${String(i * 37).padStart(4, "0")}.jpg`;
            files[name] = await Deno.readFile(
              join(CIFAR, split, cls, `${String(i * 37).padStart(4, "0")}.jpg`),
            );
          }
        }
      }
      await writeTree(dir, files);
      const data = await imageFolder(dir, { cache: false, progress: false, workers: 2 });
      const script =
        "import sys\nfrom PIL import Image\nfor path in sys.stdin.read().split('\\n'):\n" +
        "    sys.stdout.buffer.write(Image.open(path).convert('RGB').tobytes())\n";
      const child = new Deno.Command(PYTHON!, {
        args: ["-c", script],
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(data.files.map((f) => join(dir, f)).join("\n")));
      await writer.close();
      const { stdout, success } = await child.output();
      assert(success, "PIL decoded the sample");
      assertEquals(data.length, 400);
      assertEquals(maxDifference(data.images, stdout), 0, "max difference from PIL");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("broken JPEGs are errors naming the file; thousands of them leave decoding exact", async () => {
  const path = join(FIXTURES, "420_32x32.jpg");
  const good = await Deno.readFile(path);
  const pil = await Deno.readFile(path.replace(/\.jpg$/, ".rgb"));
  // A scan cut short, then an end marker: libjpeg-turbo warns, PIL fails too.
  const cut = new Uint8Array([...good.subarray(0, 500), 0xff, 0xd9]);
  assertThrows(() => decodeImage(cut, "cut.jpg"), "cut.jpg: cannot decode: libjpeg-turbo rejects");
  // A JPEG signature, then no frame header: libjpeg-turbo's fatal-error path.
  const garbage = Uint8Array.from({ length: 600 }, (_, i) => i < 3 ? good[i] : i & 0xff);
  assertThrows(() => decodeImage(garbage, "garbage.jpg"), "garbage.jpg: cannot decode");
  assertThrows(() => decodeImage(good.subarray(0, 600), "end.jpg"), "end.jpg: cannot decode");

  // Each failure leaks a little of the WASM instance; it is replaced while the event loop runs.
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 250; i++) assertThrows(() => decodeJpeg(garbage), "libjpeg-turbo");
    await jpegDecoderReady();
    assertEquals(maxDifference(decodeJpeg(good).data, pil), 0, `after round ${round}`);
  }
  // Failures without a pause are refused before the instance could break, until it is replaced.
  for (let i = 0; i < 1000; i++) assertThrows(() => decodeJpeg(garbage), "libjpeg-turbo");
  assertThrows(() => decodeJpeg(good), "1000 JPEGs failed in a row");
  await jpegDecoderReady();
  assertEquals(maxDifference(decodeJpeg(good).data, pil), 0, "after the pause");
});
