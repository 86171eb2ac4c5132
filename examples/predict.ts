/**
 * Classifies image files (or folders of them, searched recursively) with a model trained by
 * examples/train.ts, printing the top 3 classes and their probabilities for each image. The
 * checkpoint alone says which model, normalization, class names and image size to use; a weights
 * file without that recipe needs `--model` (and `--classes`, `--normalize` as trained).
 *
 * Usage: deno run -A examples/predict.ts --checkpoint PATH [--model NAME] [--classes A,B,...]
 * [--normalize] IMAGE_OR_FOLDER... (see --help)
 *
 * @module
 */

import { createModel, initGpu, modelNames } from "../mod.ts";
import {
  classifyFiles,
  formatPrediction,
  listImageFiles,
  loadWeights,
  parsePredictFlags,
  predictHelp,
  predictSetup,
} from "./predict_lib.ts";
import { FlagError } from "./train_flags.ts";

/** Runs the command line; returns the exit code (2 for a bad flag or value, 1 for other errors). */
async function main(args: string[]): Promise<number> {
  const models = modelNames();
  try {
    const flags = parsePredictFlags(args, models);
    if (flags.help) {
      console.log(predictHelp(models));
      return 0;
    }
    const files = listImageFiles(flags.paths);
    const setup = await predictSetup(flags, models);
    await initGpu();
    const model = createModel(setup.model);
    await loadWeights(flags.checkpoint, model, setup.model);
    const results = await classifyFiles(model, files, {
      classNames: setup.classes,
      normalize: setup.normalize,
      batchSize: flags.batchSize,
      height: setup.height,
      width: setup.width,
      unnamedOutputs: setup.fromRecipe,
    });
    for (const result of results) console.log(formatPrediction(result));
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return error instanceof FlagError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
