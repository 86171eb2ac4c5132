/**
 * CIFAR-10's binary batches from the web (src/data/cifar_web.ts): fetched from a loopback server
 * and read from File objects, as the browser example does; class names from batches.meta.txt or
 * the official ones; every error names the address or file at fault.
 *
 * @module
 */

import { CIFAR10_CLASSES, cifar10FromFiles, cifar10FromUrl, Generator } from "../mod.ts";
import { assertEquals, assertRejects, testSeed } from "./assert.ts";
import { cifarRecords, randomPixels, serve } from "./fixtures.ts";

/** Batch files of `perFile` random images each, and the labels and pixels in order. */
function batches(rng: Generator, names: string[], perFile: number) {
  const labels: number[] = [];
  const pixels: Uint8Array[] = [];
  const files: Record<string, Uint8Array<ArrayBuffer>> = {};
  for (const name of names) {
    const l = Array.from({ length: perFile }, () => rng.int(10));
    const p = l.map(() => randomPixels(rng, 32, 32));
    labels.push(...l);
    pixels.push(...p);
    files[name] = cifarRecords(l.map((x) => [x]), p) as Uint8Array<ArrayBuffer>;
  }
  return { files, labels, pixels };
}

const TRAIN = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);

function routes(prefix: string, files: Record<string, Uint8Array<ArrayBuffer> | string>) {
  return Object.fromEntries(
    Object.entries(files).map(([name, body]) => [`${prefix}${name}`, () => new Response(body)]),
  );
}

Deno.test("cifar10FromUrl fetches the batches in order, names from batches.meta.txt", async () => {
  const rng = new Generator(testSeed("cifar10FromUrl"));
  const train = batches(rng, TRAIN, 2);
  const test = batches(rng, ["test_batch.bin"], 3);
  const names = "a0\r\na1\na2\na3\na4\na5\na6\na7\na8\na9\n\n";
  const server = serve(routes("/d/", { ...train.files, ...test.files, "batches.meta.txt": names }));
  try {
    const seen: string[] = [];
    const got = await cifar10FromUrl(`${server.url}/d`, {
      onFile: (f, i, n) => seen.push(`${f} ${i}/${n}`),
    });
    assertEquals(got.labels, Int32Array.from(train.labels));
    assertEquals([got.length, got.height, got.width, got.classes[9]], [10, 32, 32, "a9"]);
    assertEquals(got.image(7), train.pixels[7]);
    assertEquals(seen, TRAIN.map((f, i) => `${f} ${i}/5`));
    const testSet = await cifar10FromUrl(new URL(`${server.url}/d/`), { train: false });
    assertEquals(testSet.labels, Int32Array.from(test.labels));
    const first = await cifar10FromUrl(`${server.url}/d/`, { files: ["data_batch_1.bin"] });
    assertEquals(first.labels, Int32Array.from(train.labels.slice(0, 2)));
  } finally {
    await server.shutdown();
  }
});

Deno.test("cifar10FromUrl: official names without batches.meta.txt; errors name the address", async () => {
  const rng = new Generator(testSeed("cifar10FromUrl errors"));
  const { files } = batches(rng, ["test_batch.bin"], 1);
  const server = serve({
    ...routes("/d/", { ...files, "data_batch_1.bin": new Uint8Array(3073 + 7) }),
    "/e/batches.meta.txt": () => new Response("oops", { status: 500 }),
  });
  try {
    const test = await cifar10FromUrl(`${server.url}/d/`, { train: false });
    assertEquals(test.classes, CIFAR10_CLASSES);
    await assertRejects(
      () => cifar10FromUrl(`${server.url}/d/`),
      `cifar10: ${server.url}/d/data_batch_1.bin: 3080 bytes is not a whole number of 3073-byte`,
    );
    await assertRejects(
      () => cifar10FromUrl(`${server.url}/d/`, { files: ["test_batch.bin", "nope.bin"] }),
      `cifar10: ${server.url}/d/nope.bin: HTTP 404`,
    );
    await assertRejects(
      () => cifar10FromUrl(`${server.url}/e/`),
      `cifar10: ${server.url}/e/batches.meta.txt: HTTP 500`,
    );
    await assertRejects(() => cifar10FromUrl(`${server.url}/d/`, { files: [] }), "lists no batch");
  } finally {
    await server.shutdown();
  }
  await assertRejects(() => cifar10FromUrl(server.url + "/d/"), "cifar10: cannot fetch");
});

Deno.test("cifar10FromFiles finds the batches among picked files by name", async () => {
  const rng = new Generator(testSeed("cifar10FromFiles"));
  const train = batches(rng, TRAIN, 2);
  const picked = [
    ...Object.entries(train.files).reverse().map(([name, bytes]) => new File([bytes], name)),
    new File(["x0\nx1\nx2\nx3\nx4\nx5\nx6\nx7\nx8\nx9\n"], "batches.meta.txt"),
    new File(["<html>"], "readme.html"),
  ];
  const got = await cifar10FromFiles(picked);
  assertEquals(got.labels, Int32Array.from(train.labels));
  assertEquals([got.classes[0], got.image(3)], ["x0", train.pixels[3]]);
  await assertRejects(
    () => cifar10FromFiles(picked, { train: false }),
    "cifar10: the files picked lack test_batch.bin (picked: data_batch_5.bin,",
  );
  await assertRejects(() => cifar10FromFiles([]), "lack data_batch_1.bin, data_batch_2.bin");
  const broken = [new File([new Uint8Array(10)], "test_batch.bin")];
  await assertRejects(
    () => cifar10FromFiles(broken, { train: false }),
    "cifar10: test_batch.bin: 10 bytes is not a whole number",
  );
  const noNames = [new File([train.files["data_batch_1.bin"]], "data_batch_1.bin")];
  const first = await cifar10FromFiles(noNames, { files: ["data_batch_1.bin"] });
  assertEquals(first.classes, CIFAR10_CLASSES);
});
