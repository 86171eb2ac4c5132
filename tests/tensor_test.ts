import { bufferPool, endStep, flush, frameStats, sync, wgslKernels } from "../gpu.ts";
import { Generator, gpuInfo, Tensor } from "../mod.ts";
import { sizeClass } from "../src/gpu/buffer_pool.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import { assertThrowsBeforeGpuWork } from "./gpu.ts";

Deno.test("adapter is reported", () => {
  const info = gpuInfo();
  assert(info.description.length > 0);
  assert(info.limits.maxStorageBuffersPerShaderStage >= 8);
});

Deno.test("tensor round trip for every dtype", async () => {
  assertEquals(await Tensor.from([1.5, -2, 3], [3]).read(), new Float32Array([1.5, -2, 3]));
  assertEquals(await Tensor.from([-7, 8], [2], { dtype: "i32" }).read(), new Int32Array([-7, 8]));
  assertEquals(
    await Tensor.from([9, 4e9], [2], { dtype: "u32" }).read(),
    new Uint32Array([9, 4e9]),
  );
  const bytes = [1, 2, 3, 250, 7];
  assertEquals(await Tensor.from(bytes, [5], { dtype: "u8" }).read(), new Uint8Array(bytes));
});

Deno.test("empty tensors are poisoned, fill and zeros overwrite", async () => {
  const t = Tensor.empty([5]);
  assert((await t.read()).every(Number.isNaN), "poison is NaN");
  t.fill(2.5);
  assertEquals(await t.read(), new Float32Array(5).fill(2.5));
  assertEquals(await Tensor.zeros([3], { dtype: "i32" }).read(), new Int32Array(3));
  assertEquals(await Tensor.full([6], 9, { dtype: "u8" }).read(), new Uint8Array(6).fill(9));
});

Deno.test("write is ordered after work recorded earlier in the frame", async () => {
  const a = Tensor.from([1, 2, 3], [3]);
  const b = Tensor.empty([3]);
  b.copyFrom(a); // recorded, not submitted
  a.write([7, 8, 9]); // must not be seen by the copy above
  assertEquals(await b.read(), new Float32Array([1, 2, 3]));
  assertEquals(await a.read(), new Float32Array([7, 8, 9]));
});

Deno.test("copyWords copies a word range inside the pass, bits as they are", async () => {
  const rng = new Generator(17);
  const n = 300 + rng.int(200); // more than one workgroup, not a multiple of 256
  const source = Tensor.from(Float32Array.from({ length: n }, () => rng.uniform()), [n]);
  const target = Tensor.empty([n + 7]); // poisoned: an unwritten word stays NaN
  const [from, to, count] = [3, 5, n - 4];
  Tensor.copyWords(source, from, target, to, count);
  const [s, t] = [await source.read(), await target.read()];
  for (let i = 0; i < n + 7; i++) {
    const inside = i >= to && i < to + count;
    if (inside) assertEquals(t[i], s[i - to + from], `word ${i}`);
    else assert(Number.isNaN(t[i]), `word ${i} outside the range was written: ${t[i]}`);
  }
  // Across dtypes the bits are copied: a u32 count lands in an f32 ring, read back as u32.
  const ring = Tensor.zeros([4]);
  Tensor.copyWords(Tensor.from([123456789], [1], { dtype: "u32" }), 0, ring, 3, 1);
  assertEquals(new Uint32Array((await ring.read()).buffer)[3], 123456789);
});

Deno.test("copyWords: ranges outside a tensor and shared buffers are errors, before GPU work", () => {
  const a = Tensor.zeros([4], { label: "a" });
  const b = Tensor.zeros([6], { label: "b" });
  assertThrowsBeforeGpuWork(() => Tensor.copyWords(a, 1, b, 0, 4), 'words [1, 5) are outside "a"');
  assertThrowsBeforeGpuWork(() => Tensor.copyWords(a, 0, b, 3, 4), 'words [3, 7) are outside "b"');
  assertThrowsBeforeGpuWork(() => Tensor.copyWords(a, 0, b, -1, 1), "targetOffset is -1");
  assertThrowsBeforeGpuWork(() => Tensor.copyWords(a, 0, b, 0, 1.5), "count is 1.5");
  assertThrowsBeforeGpuWork(() => Tensor.copyWords(a, 0, a.view(2, 2), 2, 2), "share a buffer");
});

Deno.test("endStep submits the open frame, and queues nothing when nothing was recorded", async () => {
  const a = Tensor.zeros([8]);
  await sync();
  const before = frameStats.submits;
  for (let i = 0; i < 20; i++) {
    a.fill(i);
    await endStep(); // 20 steps: the queue bound waits on old ones, never loses one
  }
  await endStep();
  assertEquals(frameStats.submits - before, 20);
  assertEquals(await a.read(), new Float32Array(8).fill(19));
});

Deno.test("reshape shares data and checks sizes", async () => {
  const t = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  const v = t.reshape([3, 2]);
  assertEquals(v.shape, [3, 2]);
  assertEquals(await v.read(), new Float32Array([1, 2, 3, 4, 5, 6]));
  assertThrows(() => t.reshape([4, 2]), "cannot reshape [2, 3] (6 elements) to [4, 2]");
  assertThrows(() => Tensor.from([1, 2], [3]), "write of 2 elements into shape [3]");
  assertThrows(() => Tensor.empty([2, -1]), "invalid shape");
  t.dispose();
  assertThrows(() => v.buffer, "disposed");
});

Deno.test("a large fill spans a 2-D dispatch grid", async () => {
  const n = 256 * 70000 + 3; // more workgroups than one dimension allows
  const t = Tensor.full([n], 1);
  const data = await t.read();
  assertEquals([data[0], data[n - 1], data.length], [1, 1, n]);
  t.dispose();
});

Deno.test("a frame of recorded work is one submit", async () => {
  const a = Tensor.from([1, 2], [2]);
  const before = frameStats.submits;
  for (let i = 0; i < 50; i++) a.fill(i);
  flush();
  assertEquals(frameStats.submits - before, 1);
  assertEquals(await a.read(), new Float32Array([49, 49]));
});

Deno.test("pool reuses buffers by size class", () => {
  assertEquals(sizeClass(1), 256);
  assertEquals(sizeClass(1000), 1024);
  assertEquals(sizeClass(1025), 1280);
  const before = bufferPool.stats();
  for (let i = 0; i < 100; i++) Tensor.zeros([1000]).dispose();
  const after = bufferPool.stats();
  assertEquals(after.live, before.live);
  assert(after.created - before.created <= 1, "at most one new buffer for 100 tensors");
});

Deno.test("generator is deterministic and restorable", () => {
  const a = new Generator(42);
  const b = new Generator(42);
  assertEquals([a.nextU32(), a.uniform()], [b.nextU32(), b.uniform()]);
  a.normal();
  const state = a.getState();
  const expected = [a.normal(), a.uniform(), a.int(10)];
  const c = new Generator(7);
  c.setState(state);
  assertEquals([c.normal(), c.uniform(), c.int(10)], expected);
  const p = new Generator(1).permutation(100);
  assertEquals([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  let sum = 0;
  const g = new Generator(3);
  for (let i = 0; i < 10000; i++) sum += g.uniform();
  assert(Math.abs(sum / 10000 - 0.5) < 0.02, "uniform mean near 0.5");
});

Deno.test("read of a disposed tensor is a clear error", async () => {
  const t = Tensor.zeros([2]);
  t.dispose();
  await assertRejects(() => t.read(), "disposed");
});

Deno.test("an upload mid-frame is not clobbered by a buffer released earlier in the frame", async () => {
  // A temporary written by recorded work and released before the upload: the upload's staging
  // buffer must not be that buffer, or the recorded fill would overwrite the staged data.
  const target = Tensor.empty([64]);
  const temporary = Tensor.empty([64]);
  temporary.fill(-1);
  temporary.dispose();
  const data = Float32Array.from({ length: 64 }, (_, i) => i);
  target.write(data);
  assertEquals(await target.read(), data);
});

Deno.test("GPU errors name the kernel at fault", async () => {
  const t = Tensor.zeros([4]);
  const broken = wgslKernels("Broken", "fn kernel( {")("kernel", 0, 1);
  await assertRejects(async () => {
    broken.dispatch({}, [t], [1]);
    await sync();
  }, "Broken.kernel");
  const fine = wgslKernels(
    "Huge",
    `@group(0) @binding(1) var<storage, read_write> y: array<f32>;
      @compute @workgroup_size(1) fn dispatch() { y[0] = 1.0; }`,
  )("dispatch", 0, 1);
  assertThrows(() => fine.dispatch({}, [t], [70000]), "Huge.dispatch: workgroup count 70000");
});
