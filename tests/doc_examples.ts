/**
 * The doc tests: every `@example` in the entry points and src/, and the README's code blocks.
 *
 * `check` type-checks them with `deno test --doc --no-run` under the project's strict settings.
 * Deno injects into each snippet an import of every export of the snippet's file, used or not
 * (denoland/deno#26900), which `noUnusedLocals` rejects; the one diagnostic on that injected line
 * is dropped (the snippets import what they use by name), every other one fails the check.
 *
 * `run` runs them with `deno test --doc --no-check` from a scratch folder holding what the
 * examples read (CIFAR-10 and CIFAR-100 in the official layouts with a few images each, an image
 * folder, photos, archives, checkpoints), served over loopback HTTP as the page origin, so
 * relative URLs resolve as in a browser page. Nothing is downloaded.
 *
 * Run: `deno run -A tests/doc_examples.ts check` (in `deno task ok`), `... run` (in `deno task
 * test`); extra arguments replace the default targets (e.g. `run src/nn/`).
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  Adam,
  Generator,
  initGpu,
  resnet,
  saveCheckpoint,
  saveModelWeights,
  veryBasicNet,
  writeReport,
} from "../mod.ts";
import { extractTar } from "../src/data/tar.ts";
import { serveStatic } from "../examples/browser/serve.ts";
import {
  cifar10Archive,
  cifarRecords,
  gzip,
  jpegBytes,
  pngBytes,
  randomPixels,
  tarBytes,
  writeImageFolder,
  writeTree,
} from "./fixtures.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TARGETS = ["mod.ts", "gpu.ts", "web.ts", "src/", "README.md"];
/** What an unused import is reported as: a name never read, a type never used, all unused. */
const UNUSED = new Set(["TS6133", "TS6192", "TS6196"]);

/** The import Deno injected into a snippet: its 1-based line and how many names it lists. */
interface Injected {
  line: number;
  names: number;
}

/** For each snippet (`file.ts#12-20.ts`), the import Deno injected, read from its debug log. */
function injectedImports(log: string): Map<string, Injected> {
  const imports = new Map<string, Injected>();
  const heading = /deno::util::extract:\d+ - (file:\/\/\S+?)(#\d+-\d+\.\w+):\n/g;
  for (const match of log.matchAll(heading)) {
    const [, base, range] = match;
    const body = log.slice(match.index + match[0].length).split("\n");
    for (let i = 0; i < body.length && !/^(DEBUG |Deno\.test\()/.test(body[i]); i++) {
      if (body[i].startsWith("import {") && body[i].endsWith(`} from "${base}";`)) {
        const names = body[i].slice(body[i].indexOf("{") + 1, body[i].lastIndexOf("}"));
        imports.set(base + range, { line: i + 1, names: names.split(",").length });
        break;
      }
    }
  }
  return imports;
}

/**
 * Type-checks the snippets; prints what fails and returns whether none did. On a snippet's
 * injected import, "all unused" (or one report per name it lists) is Deno's noise; fewer reports
 * mean the snippet uses a name it does not import, which a reader's copy would miss.
 */
async function check(targets: string[]): Promise<boolean> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--doc", "--no-run", "--log-level=debug", ...targets],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
  const injected = injectedImports(log);
  const diagnostic = /^(TS\d+) \[ERROR\]: [\s\S]*?^ {4}at (file:\/\/\S+?):(\d+):\d+$/gm;
  const kept: string[] = [];
  const unusedReports = new Map<string, number>();
  for (const [text, code, file, line] of log.matchAll(diagnostic)) {
    if (UNUSED.has(code) && injected.get(file)?.line === Number(line)) {
      const all = code === "TS6192" ? Infinity : 1;
      unusedReports.set(file, (unusedReports.get(file) ?? 0) + all);
    } else kept.push(text);
  }
  for (const [file, { names }] of injected) {
    if ((unusedReports.get(file) ?? 0) < names) {
      kept.push(`${file}: uses a name of its file without importing it`);
    }
  }
  // A failure that is not a type error (a module not found, say) fails the check too.
  const failures = (log.match(/^error: .*$/gm) ?? [])
    .filter((line) => line !== "error: Type checking failed.");
  kept.push(...failures);
  if (!output.success && !/^error: /m.test(log)) kept.push(log.split("\n").slice(-40).join("\n"));
  const snippets = new Set(log.match(/^Check \S+#\d+-\d+\.\w+$/gm)).size;
  if (kept.length > 0) console.error(kept.join("\n\n") + "\n");
  console.log(
    `${snippets} doc snippets type-checked: ${kept.length} errors` +
      ` (${unusedReports.size} reports of Deno's unused injected import ignored)`,
  );
  return kept.length === 0;
}

/** Writes the files the examples read under `root`. */
async function writeFixtures(root: string): Promise<void> {
  const rng = new Generator(0);
  const cifar10 = await cifar10Archive(rng, 4);
  await Deno.writeFile(join(root, "cifar-10-binary.tar.gz"), cifar10.archive);
  const archive = new Blob([cifar10.archive as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  await extractTar(archive, join(root, "data"), "cifar-10-binary.tar.gz");

  const hundred = (n: number) => {
    const labels = Array.from({ length: n }, () => [rng.int(20), rng.int(100)]);
    return cifarRecords(labels, labels.map(() => randomPixels(rng, 32, 32)));
  };
  const names = (prefix: string, n: number) =>
    new TextEncoder().encode(Array.from({ length: n }, (_, i) => `${prefix}${i}\n`).join(""));
  const photo = randomPixels(rng, 32, 32);
  const hello = tarBytes([["hello/", null], ["hello/world.txt", new TextEncoder().encode("hi")]]);
  await writeTree(root, {
    "data/cifar-100-binary/train.bin": hundred(6),
    "data/cifar-100-binary/test.bin": hundred(3),
    "data/cifar-100-binary/fine_label_names.txt": names("fine", 100),
    "data/cifar-100-binary/coarse_label_names.txt": names("coarse", 20),
    "data/cifar/train/cat/0000.jpg": await jpegBytes(photo, 32, 32),
    "photo.png": pngBytes(photo, 32, 32, 3),
    "photo.jpg": await jpegBytes(photo, 32, 32),
    "archive.tar": hello,
    "archive.tar.gz": await gzip(hello),
  });
  await writeImageFolder(rng, join(root, "data/cifar"), ["airplane", "cat"], { train: 3, test: 2 });

  await initGpu();
  await saveModelWeights(join(root, "resnet_from_pytorch.safetensors"), resnet());
  await saveModelWeights(join(root, "model.safetensors"), veryBasicNet());
  await writeReport(join(root, "runs/example"), {
    model: "very-basic-net",
    parameters: 30730,
    adapter: "fixture",
    flags: {},
    seed: 0,
    steps: [],
    epochs: [],
    classes: ["airplane", "cat"],
    perClassAccuracy: [0.5, 0.5],
    confusion: [[1, 1], [1, 1]],
    testAccuracy: 0.5,
    validationLoss: 0.69,
    wallSeconds: 1,
  });
  const model = veryBasicNet();
  await Deno.mkdir(join(root, "run"));
  await saveCheckpoint(join(root, "run/checkpoint.safetensors"), {
    model,
    optimizer: new Adam(model, { lr: 0.003 }),
    trainState: { epoch: 1, step: 0, globalStep: 1 },
    generators: { data: new Generator(0) },
  });
}

/** Runs the snippets from a scratch folder of fixtures; returns whether all passed. */
async function run(targets: string[]): Promise<boolean> {
  const scratch = await Deno.makeTempDir({ prefix: "hajime-doc-" });
  const server = serveStatic({
    folders: { "/": scratch, "/cifar-10-batches-bin/": join(scratch, "data/cifar-10-batches-bin") },
  });
  try {
    await writeFixtures(scratch);
    const status = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "-A",
        "--doc",
        "--no-check",
        "--parallel",
        `--config=${join(ROOT, "deno.json")}`,
        `--location=${server.url}`,
        ...targets.map((target) => join(ROOT, target)),
      ],
      cwd: scratch,
      env: { HAJIME_AUTOTUNE: "0", HAJIME_CACHE_DIR: join(scratch, "cache") },
    }).spawn().status;
    return status.success;
  } finally {
    await server.shutdown();
    await Deno.remove(scratch, { recursive: true });
  }
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  const targets = rest.length > 0 ? rest : TARGETS;
  if (mode !== "check" && mode !== "run") {
    console.error("usage: deno run -A tests/doc_examples.ts check|run [targets...]");
    Deno.exit(2);
  }
  const ok = mode === "check" ? await check(targets) : await run(targets);
  Deno.exit(ok ? 0 : 1);
}
