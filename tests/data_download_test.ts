/**
 * Downloads end to end against a loopback HTTP server that serves CIFAR archives built by the
 * tests in the official layout: a good one (dataset loads), a corrupt one, one with another MD5,
 * one cut off mid-transfer, a missing one, and a server that is gone (offline). Nothing may be
 * left behind after a failure.
 *
 * @module
 */

import { cifar10 } from "../src/data/cifar_binary.ts";
import { downloadAndExtract } from "../src/data/download.ts";
import { Generator } from "../mod.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { cifar10Archive, md5, serve } from "./fixtures.ts";

const { archive, train, test } = await cifar10Archive(new Generator(7));
const goodMd5 = await md5(archive);
const corrupt = archive.slice();
for (let i = 100; i < 400; i++) corrupt[i] ^= 0x5a;

const server = serve({
  "/good.tar.gz": () => new Response(archive as Uint8Array<ArrayBuffer>),
  "/corrupt.tar.gz": () => new Response(corrupt as Uint8Array<ArrayBuffer>),
});

/**
 * A raw loopback server that promises the whole archive (Content-Length) but closes the
 * connection after half of it: an interrupted download, as the client sees one.
 */
function cutServer(): { url: string; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(4096)); // the request; its content does not matter
    const head = `HTTP/1.1 200 OK\r\nContent-Length: ${archive.length}\r\n` +
      `Content-Type: application/gzip\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head));
    await conn.write(archive.subarray(0, archive.length >> 1));
    conn.close();
    listener.close();
  })();
  return { url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`, done };
}

async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hajime-download-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cifar10 downloads, checks, unpacks and loads an archive", () =>
  withTemp(async (root) => {
    const source = { url: `${server.url}/good.tar.gz`, md5: goodMd5 };
    const data = await cifar10({ root, download: true, source, progress: false });
    assertEquals(await listing(root), ["cifar-10-batches-bin"]);
    assertEquals(data.length, train.labels.length);
    assertEquals(data.labels, Int32Array.from(train.labels));
    assertEquals(data.image(4), train.pixels[4]);
    assertEquals(data.classes.length, 10);
    // Present now: no second download (the server would not be asked).
    const again = await cifar10({
      root,
      train: false,
      download: true,
      progress: false,
      source: { url: `${server.url}/missing`, md5: "0" },
    });
    assertEquals(again.labels, Int32Array.from(test.labels));
    assertEquals(again.image(2), test.pixels[2]);
  }));

Deno.test("a corrupt archive is rejected and nothing is kept", () =>
  withTemp(async (root) => {
    await assertRejects(
      () =>
        cifar10({
          root,
          download: true,
          progress: false,
          source: { url: `${server.url}/corrupt.tar.gz`, md5: goodMd5 },
        }),
      "corrupt",
    );
    assertEquals(await listing(root), []);
  }));

Deno.test("an MD5 mismatch is rejected and nothing is kept", () =>
  withTemp(async (root) => {
    const error = await assertRejects(
      () =>
        cifar10({
          root,
          download: true,
          progress: false,
          source: { url: `${server.url}/good.tar.gz`, md5: "0123456789abcdef0123456789abcdef" },
        }),
      `has MD5 ${goodMd5}, expected 0123456789abcdef0123456789abcdef`,
    );
    assert(error.message.includes("nothing was kept"));
    assertEquals(await listing(root), []);
  }));

Deno.test("an interrupted download is reported and nothing is kept", () =>
  withTemp(async (root) => {
    const cut = cutServer();
    await assertRejects(
      () =>
        downloadAndExtract({
          url: `${cut.url}/cifar-10-binary.tar.gz`,
          md5: goodMd5,
          root,
          folder: "cifar-10-batches-bin",
          progress: false,
          label: "cifar10",
        }),
      "was interrupted after",
    );
    await cut.done;
    assertEquals(await listing(root), []);
  }));

Deno.test("HTTP errors and a missing archive folder are reported", () =>
  withTemp(async (root) => {
    await assertRejects(
      () =>
        downloadAndExtract({
          url: `${server.url}/nothing`,
          md5: goodMd5,
          root,
          folder: "x",
          progress: false,
          label: "cifar10",
        }),
      "answered HTTP 404",
    );
    await assertRejects(
      () =>
        downloadAndExtract({
          url: `${server.url}/good.tar.gz`,
          md5: goodMd5,
          root,
          folder: "cifar-100-binary",
          progress: false,
        }),
      'does not contain the folder "cifar-100-binary"',
    );
    assertEquals(await listing(root), []);
  }));

Deno.test("offline: the error says so and suggests a local folder", async () => {
  const gone = serve({});
  await gone.shutdown();
  await withTemp(async (root) => {
    const error = await assertRejects(
      () =>
        cifar10({
          root,
          download: true,
          progress: false,
          source: { url: `${gone.url}/cifar-10-binary.tar.gz`, md5: goodMd5 },
        }),
      "(offline?)",
    );
    assert(error.message.includes("imageFolder"), error.message);
    assertEquals(await listing(root), []);
  });
});

Deno.test("the server stops", () => server.shutdown());
