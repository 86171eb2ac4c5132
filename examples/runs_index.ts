/**
 * Rebuilds `index.html` in a folder of runs (default `runs/`): every run's test accuracy,
 * validation loss and training loss overlaid, and one row per run with its recipe. train.ts does
 * this at the end of each run under `runs/`; this rebuilds it after runs were added or deleted.
 *
 * Usage: deno run --allow-read --allow-write examples/runs_index.ts [DIR]
 * (or `deno task runs-index [DIR]`)
 */

import { writeRunsIndex } from "../mod.ts";

const dir = Deno.args[0] ?? "runs";
try {
  const runs = await writeRunsIndex(dir);
  console.log(`${dir}/index.html compares ${runs.length} runs`);
} catch (error) {
  console.error(`error: ${dir}: ${(error as Error).message}`);
  Deno.exit(1);
}
