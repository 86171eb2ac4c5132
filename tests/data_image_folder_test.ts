/**
 * imageFolder on folders the tests write (PNG of every colour type, JPEG), the packed cache and
 * its checksum (corrupt pixels or labels are named and rebuilt), the parallel decoders, every bad
 * input (an odd first image among others of one size included), and a known image from
 * ../shared/cifar10 checked against PIL's decoding. JPEG against PIL in full: data_jpeg_test.ts.
 *
 * @module
 */

import { imageFolder } from "../src/data/image_folder.ts";
import { Generator } from "../mod.ts";
import { assert, assertEquals, assertRejects, testSeed } from "./assert.ts";
import { jpegBytes, pngBytes, randomPixels, writeTree } from "./fixtures.ts";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hajime-folder-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const quiet = { progress: false, cache: false } as const;

Deno.test("classes are sorted folder names; every PNG colour type and JPEG becomes RGB", () =>
  withTemp(async (root) => {
    const rng = new Generator(testSeed("imageFolder kinds"));
    const rgb = randomPixels(rng, 3, 4);
    const grey = randomPixels(rng, 3, 4, 1);
    const greyAlpha = randomPixels(rng, 3, 4, 2);
    const rgba = randomPixels(rng, 3, 4, 4);
    const wide = Uint16Array.from(randomPixels(rng, 3, 4), (v) => v * 257 + 3);
    const palette = [[10, 20, 30], [200, 100, 0], [7, 8, 9]];
    const indices = Uint8Array.from({ length: 12 }, () => rng.int(3));
    const photo = randomPixels(rng, 3, 4);
    const jpg = await jpegBytes(photo, 4, 3);
    await writeTree(root, {
      "dog/b_rgb.png": pngBytes(rgb, 4, 3, 3),
      "dog/a_grey.png": pngBytes(grey, 4, 3, 1),
      "dog/c_greyalpha.png": pngBytes(greyAlpha, 4, 3, 2),
      "cat/z/rgba.png": pngBytes(rgba, 4, 3, 4),
      "cat/m_16bit.PNG": pngBytes(wide, 4, 3, 3, { depth: 16 }),
      "cat/a_palette.png": pngBytes(indices, 4, 3, 1, { palette }),
      "Zebra/photo.jpeg": jpg,
      "Zebra/notes.txt": new TextEncoder().encode("not an image"),
      "README.md": new TextEncoder().encode("a file beside the class folders"),
    });
    const data = await imageFolder(root, quiet);
    // Code-point order, as Python's sorted(): upper case first.
    assertEquals(data.classes, ["Zebra", "cat", "dog"]);
    assertEquals(data.files, [
      "Zebra/photo.jpeg",
      "cat/a_palette.png",
      "cat/m_16bit.PNG",
      "cat/z/rgba.png",
      "dog/a_grey.png",
      "dog/b_rgb.png",
      "dog/c_greyalpha.png",
    ]);
    assertEquals(data.labels, new Int32Array([0, 1, 1, 1, 2, 2, 2]));
    assertEquals([data.height, data.width, data.length], [3, 4, 7]);
    const expand = (values: Uint8Array, channels: number) =>
      Uint8Array.from(
        { length: 36 },
        (_, i) => values[Math.floor(i / 3) * channels + (channels >= 3 ? i % 3 : 0)],
      );
    assert(data.image(0).every((v, i) => Math.abs(v - photo[i]) <= 12), "JPEG close to its source");
    assertEquals(
      data.image(1),
      Uint8Array.from(indices.reduce<number[]>((a, k) => a.concat(palette[k]), [])),
    );
    assertEquals(data.image(2), Uint8Array.from(wide, (v) => v >> 8));
    assertEquals(data.image(3), expand(rgba, 4));
    assertEquals(data.image(4), expand(grey, 1));
    assertEquals(data.image(5), rgb);
    assertEquals(data.image(6), expand(greyAlpha, 2));
  }));

Deno.test("1-bit grey PNGs are scaled to 0 and 255", () =>
  withTemp(async (root) => {
    // Row of 5 pixels, 1 bit each, rows padded to a byte: 1 0 1 0 1 / 0 1 0 1 0.
    await writeTree(root, {
      "a/bits.png": pngBytes(new Uint8Array([0b10101000, 0b01010000]), 5, 2, 1, { depth: 1 as 8 }),
    });
    const data = await imageFolder(root, quiet);
    const bits = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0];
    assertEquals(data.image(0), Uint8Array.from(bits.flatMap((b) => [b * 255, b * 255, b * 255])));
  }));

Deno.test("workers and this thread decode the same, in order, across many chunks", () =>
  withTemp(async (root) => {
    const rng = new Generator(testSeed("imageFolder workers"));
    const files: Record<string, Uint8Array> = {};
    const expected: Uint8Array[] = [];
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 230; i++) {
        const pixels = randomPixels(rng, 2, 3);
        files[`class${c}/${String(i).padStart(4, "0")}.png`] = pngBytes(pixels, 3, 2, 3);
        expected.push(pixels);
      }
    }
    await writeTree(root, files);
    const inline = await imageFolder(root, { ...quiet, workers: 0 });
    const parallel = await imageFolder(root, { ...quiet, workers: 2 });
    assertEquals(parallel.length, 690);
    assertEquals(parallel.images, inline.images);
    assertEquals(parallel.labels, inline.labels);
    assertEquals(parallel.image(689), expected[689]);
    assertEquals(parallel.image(250), expected[250]);
    assertEquals(parallel.labels[229], 0);
    assertEquals(parallel.labels[230], 1);
  }));

Deno.test("the packed cache is used until a file changes, and is written atomically", () =>
  withTemp(async (dir) => {
    const root = `${dir}/images`;
    const cache = `${dir}/cache`;
    const a = new Uint8Array(12).fill(10);
    await writeTree(root, { "x/a.png": pngBytes(a, 2, 2, 3), "y/b.png": pngBytes(a, 2, 2, 3) });
    const first = await imageFolder(root, { progress: false, cache });
    assertEquals(first.image(0), a);
    const cached = [...Deno.readDirSync(cache)].map((e) => e.name);
    assertEquals(cached.length, 1, "one cache file and no temporary file left");
    assert(cached[0].startsWith("imagefolder-") && cached[0].endsWith(".bin"));

    // Same size and modification time, other pixels: the cache answers, so the old pixels come.
    const path = `${root}/x/a.png`;
    const { mtime } = await Deno.stat(path);
    await Deno.writeFile(path, pngBytes(new Uint8Array(12).fill(20), 2, 2, 3));
    await Deno.utime(path, mtime!, mtime!);
    const warm = await imageFolder(root, { progress: false, cache });
    assertEquals(warm.image(0), a);
    assertEquals([warm.classes, warm.files, warm.labels], [
      first.classes,
      first.files,
      first.labels,
    ]);

    // A newer modification time invalidates the entry: decoded again and rewritten.
    await Deno.utime(path, new Date(), new Date(Date.now() + 5000));
    const fresh = await imageFolder(root, { progress: false, cache });
    assertEquals(fresh.image(0), new Uint8Array(12).fill(20));
    // A new file invalidates it too.
    await writeTree(root, { "y/c.png": pngBytes(new Uint8Array(12).fill(30), 2, 2, 3) });
    assertEquals((await imageFolder(root, { progress: false, cache })).length, 3);
    assertEquals([...Deno.readDirSync(cache)].length, 1);
    // A damaged cache file is ignored and replaced.
    const file = `${cache}/${cached[0]}`;
    await Deno.writeFile(file, new Uint8Array(100));
    assertEquals((await imageFolder(root, { progress: false, cache })).length, 3);
  }));

Deno.test("bad folders are errors naming the folder", () =>
  withTemp(async (root) => {
    await assertRejects(
      () => imageFolder(`${root}/nope`, quiet),
      `folder ${root}/nope does not exist`,
    );
    await assertRejects(() => imageFolder(root, quiet), `${root} has no class folders`);
    await writeTree(root, {
      "cat/a.png": pngBytes(new Uint8Array(12), 2, 2, 3),
      "dog/readme.txt": new Uint8Array(1),
    });
    await Deno.mkdir(`${root}/emu`);
    await assertRejects(
      () => imageFolder(root, quiet),
      `no .jpg, .jpeg or .png images in the class folders ${root}/dog, ${root}/emu`,
    );
  }));

Deno.test("broken images are errors naming the file, or skipped with skipBroken", () =>
  withTemp(async (root) => {
    const rng = new Generator(testSeed("imageFolder broken"));
    const good = pngBytes(randomPixels(rng, 4, 4), 4, 4, 3);
    const photo = await jpegBytes(randomPixels(rng, 4, 4), 4, 4);
    const corruptPng = good.slice();
    for (let i = 45; i < 60; i++) corruptPng[i] ^= 0x33;
    await writeTree(root, { "a/0_good.png": good, "a/1_photo.jpg": photo });
    const cases: [string, Uint8Array, string][] = [
      ["a/2_cut.jpg", photo.subarray(0, photo.length - 40), "truncated JPEG"],
      ["a/2_cut.png", good.subarray(0, good.length - 20), "truncated PNG"],
      ["a/2_corrupt.png", corruptPng, "cannot decode"],
      ["a/2_text.jpg", new TextEncoder().encode("hello"), "not a JPEG or PNG file"],
      ["a/2_big.png", pngBytes(randomPixels(rng, 5, 4), 4, 5, 3), "image is 4×5, expected 4×4"],
    ];
    for (const [name, bytes, message] of cases) {
      await writeTree(root, { [name]: bytes });
      for (const workers of [0, 1]) {
        const error = await assertRejects(() => imageFolder(root, { ...quiet, workers }), message);
        assert(error.message.includes(`${root}/${name}`), error.message);
        assert(error.message.includes("skipBroken"), error.message);
      }
      await Deno.remove(`${root}/${name}`);
    }
    // The size comes from the first image: a broken first image is named too.
    await writeTree(root, { "a/00_cut.png": good.subarray(0, 30) });
    await assertRejects(() => imageFolder(root, quiet), `${root}/a/00_cut.png: cannot decode`);

    for (const [name, bytes] of cases) await writeTree(root, { [name]: bytes });
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (message: string) => warnings.push(message);
    try {
      const data = await imageFolder(root, { ...quiet, skipBroken: true });
      assertEquals(data.files, ["a/0_good.png", "a/1_photo.jpg"]);
      assertEquals(data.length, 2);
    } finally {
      console.warn = warn;
    }
    assertEquals(warnings.length, 6);
    assert(warnings.some((w) => w.includes(`${root}/a/2_cut.jpg`)), warnings.join("\n"));
  }));

/** Runs `fn` with console.warn collected: its result and the warnings. */
async function collectWarnings<T>(fn: () => Promise<T>): Promise<[T, string[]]> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (message: string) => warnings.push(message);
  try {
    return [await fn(), warnings];
  } finally {
    console.warn = warn;
  }
}

Deno.test("a damaged cache (pixels, a label changed to 3 or to 99) is named and rebuilt", () =>
  withTemp(async (dir) => {
    const root = `${dir}/images`;
    const cache = `${dir}/cache`;
    const rng = new Generator(testSeed("imageFolder cache checksum"));
    const files: Record<string, Uint8Array> = {};
    for (const name of ["a", "b", "c", "d", "e"]) {
      for (const i of [0, 1]) {
        files[`${name}/${i}.png`] = pngBytes(randomPixels(rng, 3, 2), 2, 3, 3);
      }
    }
    await writeTree(root, files);
    const fresh = await imageFolder(root, { ...quiet, cache: false });
    await imageFolder(root, { progress: false, cache });
    const [name] = [...Deno.readDirSync(cache)].map((e) => e.name);
    const path = `${cache}/${name}`;
    const good = await Deno.readFile(path);
    const view = new DataView(good.buffer);
    // The layout of src/data/cache.ts: a 48-byte preamble, the header, the labels, the pixels.
    const labelsAt = Math.ceil((48 + view.getUint32(12, true)) / 4) * 4;
    const imagesAt = labelsAt + 4 * fresh.length;
    assertEquals(view.getInt32(labelsAt + 4, true), 0, "the second image is class a");

    const damages: [string, (bytes: Uint8Array) => void][] = [
      ["one pixel byte", (bytes) => bytes[imagesAt + 7] ^= 0x40],
      ["label 0 → 3", (bytes) => new DataView(bytes.buffer).setInt32(labelsAt + 4, 3, true)],
      ["label 0 → 99", (bytes) => new DataView(bytes.buffer).setInt32(labelsAt + 4, 99, true)],
    ];
    for (const [what, damage] of damages) {
      const bytes = good.slice();
      damage(bytes);
      assertEquals(bytes.length, good.length, "same size");
      await Deno.writeFile(path, bytes);
      const [data, warnings] = await collectWarnings(() =>
        imageFolder(root, { progress: false, cache })
      );
      assertEquals(warnings.length, 1, `${what}: ${warnings.join("\n")}`);
      assert(warnings[0].includes(path) && warnings[0].includes("checksum"), warnings[0]);
      assertEquals(
        [data.images, data.labels, data.classes, data.files],
        [fresh.images, fresh.labels, fresh.classes, fresh.files],
        what,
      );
      // Rebuilt: the next run reads it back without a word.
      assertEquals(await Deno.readFile(path), good, `${what}: the cache is rewritten`);
      const [, none] = await collectWarnings(() => imageFolder(root, { progress: false, cache }));
      assertEquals(none, []);
    }
  }));

Deno.test("an odd first image is named, against the size of the others", () =>
  withTemp(async (root) => {
    const rng = new Generator(testSeed("imageFolder odd first"));
    const files: Record<string, Uint8Array> = {
      "a/00_odd.png": pngBytes(randomPixels(rng, 4, 5), 5, 4, 3),
    };
    for (let i = 1; i <= 5; i++) files[`a/0${i}.png`] = pngBytes(randomPixels(rng, 4, 4), 4, 4, 3);
    files["b/big.png"] = pngBytes(randomPixels(rng, 6, 6), 6, 6, 3);
    await writeTree(root, files);
    for (const workers of [0, 1]) {
      const error = await assertRejects(
        () => imageFolder(root, { ...quiet, workers }),
        `5 images in ${root} are 4×4, 2 are not: ${root}/a/00_odd.png (5×4), ${root}/b/big.png (6×6)`,
      );
      assert(!error.message.includes("01.png"), error.message);
      const [data, warnings] = await collectWarnings(() =>
        imageFolder(root, { ...quiet, workers, skipBroken: true })
      );
      assertEquals([data.height, data.width, data.length], [4, 4, 5]);
      assertEquals(data.files, ["a/01.png", "a/02.png", "a/03.png", "a/04.png", "a/05.png"]);
      assertEquals(warnings.length, 2, warnings.join("\n"));
      assert(warnings[0].includes(`${root}/a/00_odd.png: image is 5×4, expected 4×4`), warnings[0]);
    }
  }));

const SHARED = new URL("../../shared/cifar10/test/", import.meta.url).pathname;
let shared = false;
try {
  shared = Deno.statSync(`${SHARED}cat/0000.jpg`).isFile;
} catch {
  // Not on this machine: the known-image test is skipped.
}

Deno.test({
  name: "a known CIFAR-10 JPEG decodes to PIL's pixels",
  ignore: !shared,
  fn: () =>
    withTemp(async (root) => {
      for (
        const name of ["airplane/0000.jpg", "airplane/0001.jpg", "cat/0000.jpg", "cat/0001.jpg"]
      ) {
        await writeTree(root, { [name]: await Deno.readFile(`${SHARED}${name}`) });
      }
      const data = await imageFolder(root, { ...quiet, workers: 1 });
      assertEquals(data.classes, ["airplane", "cat"]);
      assertEquals(data.labels, new Int32Array([0, 0, 1, 1]));
      // PIL's Image.open("test/cat/0000.jpg").convert("RGB") at (y, x), python3-pil 9.4.0.
      const known: [number, number, number[]][] = [
        [0, 0, [167, 107, 47]],
        [5, 7, [172, 119, 41]],
        [16, 16, [118, 101, 85]],
        [31, 31, [27, 79, 129]],
        [10, 25, [100, 94, 96]],
      ];
      const cat = data.image(2);
      for (const [y, x, rgb] of known) {
        assertEquals(
          [...cat.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3)],
          rgb,
          `(${y}, ${x})`,
        );
      }
    }),
});
