/// <reference lib="dom" />
/**
 * The browser example's page (index.html): trains a chosen article model on CIFAR-10 in the tab
 * from the official binary batches, served by the page's origin or picked by the user, with a live
 * loss and accuracy chart, the article's log lines and the test accuracy at the end.
 *
 * Every form field can be preset in the address (`?model=resnet&epochs=1`); `autostart=1` starts
 * at once and `autotune=0` keeps the default kernels (the tests use both). The run's progress is
 * published as `globalThis.hajimeDemo` ({@linkcode DemoState}) for the tests.
 *
 * Build: `deno task bundle` (writes main.js beside this file); serve: `deno task serve`.
 *
 * @module
 */

import { Autotuner, setAutotuner } from "../../gpu.ts";
import {
  cifar10Files,
  cifar10FromFiles,
  cifar10FromUrl,
  type CifarWebOptions,
  gpuInfo,
  type ImageDataset,
  initGpu,
  modelEntries,
} from "../../web.ts";
import { TrainingChart } from "./chart.ts";
import { ARTICLE_RECIPE, trainArticleModel, type TrainingOptions } from "./training.ts";

/** What the page shows, for the tests to read. */
export interface DemoState {
  /** `idle`, `loading`, `training`, `done`, `stopped` or `error`. */
  phase: string;
  /** The adapter, once WebGPU is up. */
  adapter: string;
  /** Every log line shown. */
  lines: string[];
  /** Steps submitted so far. */
  steps: number;
  /** Logged losses as [global step, loss]. */
  losses: [number, number][];
  /** Charted sample accuracies as [global step, accuracy]. */
  accuracies: [number, number][];
  /** The whole test set's accuracy at the end. */
  accuracy: number | null;
  /** The error shown, if any. */
  error: string | null;
}

const state: DemoState = {
  phase: "idle",
  adapter: "",
  lines: [],
  steps: 0,
  losses: [],
  accuracies: [],
  accuracy: null,
  error: null,
};
(globalThis as { hajimeDemo?: DemoState }).hajimeDemo = state;

const form = document.querySelector<HTMLFormElement>("#form")!;
const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
const startButton = document.querySelector<HTMLButtonElement>("#start")!;
const stopButton = document.querySelector<HTMLButtonElement>("#stop")!;
const status = document.querySelector<HTMLElement>("#status")!;
const log = document.querySelector<HTMLElement>("#log")!;
const result = document.querySelector<HTMLElement>("#result")!;
const chart = new TrainingChart(document.querySelector<HTMLCanvasElement>("#chart")!);

/** Thrown from the step hook when Stop is pressed. */
class Stopped extends Error {}
let stopRequested = false;

const NUMBERS = [
  "epochs",
  "batchSize",
  "lr",
  "seed",
  "logEvery",
  "maxSteps",
  "accuracySample",
] as const;

function showStatus(text: string, isError = false): void {
  status.textContent = text;
  status.style.color = isError ? "#c92a2a" : "";
}

function addLine(text: string): void {
  state.lines.push(text);
  log.textContent += text + "\n";
  log.scrollTop = log.scrollHeight;
}

/** The form's fields, preset from the recipe and then from the address. */
function fillForm(params: URLSearchParams): void {
  const select = form.elements.namedItem("model") as HTMLSelectElement;
  for (const entry of modelEntries()) {
    select.add(new Option(`${entry.name}: ${entry.description}`, entry.name));
  }
  select.value = params.get("model") ?? ARTICLE_RECIPE.model;
  for (const name of NUMBERS) field(name).value = params.get(name) ?? String(ARTICLE_RECIPE[name]);
  field("batches").value = params.get("batches") ?? "5";
  field("data").value = params.get("data") ?? "cifar-10-batches-bin/";
}

function readOptions(): TrainingOptions {
  const options = { model: (form.elements.namedItem("model") as HTMLSelectElement).value };
  for (const name of NUMBERS) Object.assign(options, { [name]: Number(field(name).value) });
  return options as TrainingOptions;
}

/** The training and test sets from the chosen source. */
async function loadData(): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const batches = Number(field("batches").value);
  if (!Number.isInteger(batches) || batches < 1 || batches > 5) {
    throw new RangeError(`training batches must be 1 to 5, got ${field("batches").value}`);
  }
  const onFile: CifarWebOptions["onFile"] = (file, index, count) =>
    showStatus(`loading ${file} (${index + 1} of ${count})…`);
  const trainOptions = { files: cifar10Files(true).slice(0, batches), onFile };
  const testOptions = { train: false, onFile };
  const fromFiles = (form.elements.namedItem("source") as RadioNodeList).value === "files";
  if (fromFiles) {
    const picked = field("files").files ?? [];
    return {
      train: await cifar10FromFiles(picked, trainOptions),
      test: await cifar10FromFiles(picked, testOptions),
    };
  }
  const base = new URL(field("data").value, location.href);
  return {
    train: await cifar10FromUrl(base, trainOptions),
    test: await cifar10FromUrl(base, testOptions),
  };
}

async function run(): Promise<void> {
  startButton.disabled = true;
  stopButton.disabled = false;
  stopRequested = false;
  Object.assign(state, { steps: 0, losses: [], accuracies: [], accuracy: null, error: null });
  chart.clear();
  result.textContent = "";
  try {
    const options = readOptions();
    state.phase = "loading";
    const { train, test } = await loadData();
    state.phase = "training";
    showStatus(`training ${options.model} on ${train.length} images…`);
    const started = performance.now();
    const outcome = await trainArticleModel(train, test, options, {
      line: addLine,
      loss: (step, loss) => {
        state.losses.push([step, loss]);
        chart.addLoss(step, loss);
      },
      accuracy: (step, accuracy) => {
        state.accuracies.push([step, accuracy]);
        chart.addAccuracy(step, accuracy);
      },
      step: (info) => {
        if (stopRequested) throw new Stopped("stopped");
        state.steps = info.globalStep;
        const perSecond = info.globalStep * info.batchSize / ((performance.now() - started) / 1e3);
        const total = options.maxSteps || (info.stepsPerEpoch ?? 0) * options.epochs;
        showStatus(
          `epoch ${info.epoch}, step ${info.globalStep}${total ? ` of ${total}` : ""}: ` +
            `${perSecond.toFixed(0)} images/s`,
        );
      },
    });
    state.accuracy = outcome.accuracy;
    state.phase = "done";
    result.textContent = `Test accuracy: ${(100 * outcome.accuracy).toFixed(2)} % ` +
      `(${outcome.steps} steps, ${outcome.seconds.toFixed(0)} s)`;
    showStatus("done.");
  } catch (error) {
    if (error instanceof Stopped) {
      state.phase = "stopped";
      showStatus(`stopped after ${state.steps} steps.`);
    } else {
      state.phase = "error";
      state.error = (error as Error).message;
      showStatus(`error: ${state.error}`, true);
    }
  } finally {
    startButton.disabled = false;
    stopButton.disabled = true;
  }
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  fillForm(params);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  stopButton.addEventListener("click", () => stopRequested = true);
  try {
    await initGpu();
  } catch (error) {
    state.phase = "error";
    state.error = (error as Error).message;
    showStatus(`error: ${state.error} (Chrome: enable WebGPU; see chrome://gpu)`, true);
    startButton.disabled = true;
    return;
  }
  if (params.get("autotune") === "0") {
    setAutotuner(new Autotuner({ enabled: false, cacheFile: null }));
  }
  const info = gpuInfo();
  state.adapter = info.description;
  document.querySelector("#adapter")!.textContent = `WebGPU adapter: ${info.description}` +
    (info.isSoftware ? " (software: slow)" : "");
  if (params.get("autostart") === "1") await run();
}

main();
