/**
 * The tar reader and extractor on archives the tests build: ustar members, GNU long names, pax
 * paths, folders, and broken archives (truncated, bad checksum, paths escaping the folder).
 *
 * @module
 */

import { extractTar, readTar } from "../src/data/tar.ts";
import { assertEquals, assertRejects } from "./assert.ts";
import { concat, tarBytes } from "./fixtures.ts";

const encoder = new TextEncoder();

function stream(bytes: Uint8Array, chunk = 700): ReadableStream<Uint8Array> {
  // Odd chunk sizes make headers and contents straddle chunk boundaries.
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

async function entries(bytes: Uint8Array) {
  const out = [];
  for await (const e of readTar(stream(bytes), "test.tar")) {
    out.push({ name: e.name, type: e.type, text: new TextDecoder().decode(e.data) });
  }
  return out;
}

Deno.test("readTar reads files, folders and GNU long names", async () => {
  const long = "dir/" + "x".repeat(150) + ".txt";
  const bytes = tarBytes([
    ["dir/", null],
    ["dir/a.txt", encoder.encode("hello")],
    ["dir/empty.bin", new Uint8Array(0)],
    [long, encoder.encode("long one")],
    ["dir/big.bin", new Uint8Array(1500).fill(7)],
  ]);
  const got = await entries(bytes);
  assertEquals(got.map((e) => [e.name, e.type]), [
    ["dir", "directory"],
    ["dir/a.txt", "file"],
    ["dir/empty.bin", "file"],
    [long, "file"],
    ["dir/big.bin", "file"],
  ]);
  assertEquals(got[1].text, "hello");
  assertEquals(got[3].text, "long one");
});

Deno.test("readTar honours a pax path record", async () => {
  const record = (key: string, value: string) => {
    const body = ` ${key}=${value}\n`;
    let length = body.length + 2;
    if (String(length).length + body.length !== length) length++;
    return `${length}${body}`;
  };
  const pax = encoder.encode(record("path", "pax/named/file.txt"));
  const bytes = tarBytes([["PaxHeader", pax], ["short.txt", encoder.encode("data")]]);
  // Turn the first member into a pax header: typeflag 'x', checksum recomputed.
  bytes[156] = "x".charCodeAt(0);
  bytes.fill(32, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += bytes[i];
  bytes.set(encoder.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  const got = await entries(bytes);
  assertEquals(got.map((e) => [e.name, e.text]), [["pax/named/file.txt", "data"]]);
});

Deno.test("readTar rejects truncated archives and bad checksums, naming the archive", async () => {
  const bytes = tarBytes([["a.txt", new Uint8Array(2000).fill(1)]]);
  await assertRejects(
    () => entries(bytes.subarray(0, 1200)),
    'test.tar: member "a.txt": truncated',
  );
  await assertRejects(
    () => entries(bytes.subarray(0, 300)),
    "test.tar: header of member 0: truncated",
  );
  const bad = bytes.slice();
  bad[10] ^= 0xff;
  await assertRejects(() => entries(bad), "test.tar: member 0 has a bad header checksum");
  await assertRejects(() => entries(concat([new Uint8Array(512).fill(65)])), "bad header checksum");
});

Deno.test("extractTar writes files and refuses paths outside the folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hajime-tar-" });
  try {
    const bytes = tarBytes([
      ["./top/", null],
      ["./top/sub/b.txt", encoder.encode("bee")],
      ["top/c.txt", encoder.encode("sea")],
    ]);
    const written = await extractTar(stream(bytes), dir, "ok.tar");
    assertEquals(written, ["top/sub/b.txt", "top/c.txt"]);
    assertEquals(await Deno.readTextFile(`${dir}/top/sub/b.txt`), "bee");
    assertEquals(await Deno.readTextFile(`${dir}/top/c.txt`), "sea");
    const evil = tarBytes([["../evil.txt", encoder.encode("x")]]);
    await assertRejects(
      () => extractTar(stream(evil), `${dir}/inner`, "evil.tar"),
      'evil.tar: member "../evil.txt" would be written outside the folder',
    );
    const absolute = tarBytes([["/tmp/evil.txt", encoder.encode("x")]]);
    await assertRejects(() => extractTar(stream(absolute), dir, "abs.tar"), "outside the folder");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
