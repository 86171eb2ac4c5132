/**
 * Learning-rate schedules as pure functions of the iteration number, with PyTorch's formulas
 * (`torch.optim.lr_scheduler`): constant, cosine annealing, step decay, linear warmup and
 * one-cycle. A schedule holds no position: the trainer asks it for the rate at its global step,
 * so a checkpoint only needs that step to resume the schedule exactly.
 *
 * @module
 */

import type { Optimizer } from "./optimizer.ts";

/**
 * A learning-rate schedule: the rate (and, for one-cycle, the momentum) at iteration `step`.
 *
 * @example
 * ```ts
 * import { cosineAnnealing, type Schedule } from "@hajime/nn";
 * const schedule: Schedule = cosineAnnealing({ totalSteps: 1000 });
 * console.log(schedule.lr(500, 0.2)); // 0.1
 * ```
 */
export interface Schedule {
  /** A short description, e.g. `cosine(T=1000, min=0)`. */
  readonly name: string;
  /**
   * The learning rate after `step` optimizer steps (0 for the first step) for a parameter group
   * whose initial learning rate is `baseLr`.
   */
  lr(step: number, baseLr: number): number;
  /** The momentum (SGD's momentum, Adam's β₁) at `step`, or undefined to leave it alone. */
  momentum?(step: number): number | undefined;
}

function checkStep(owner: string, step: number): void {
  if (!Number.isInteger(step) || step < 0) {
    throw new RangeError(`${owner}: step must be an integer ≥ 0, got ${step}`);
  }
}

function checkPositiveInteger(owner: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${owner}: ${name} must be an integer ≥ 1, got ${value}`);
  }
}

/**
 * The initial learning rate at every step (no schedule).
 *
 * @example
 * ```ts
 * import { constant } from "@hajime/nn";
 * console.log(constant().lr(123, 0.003)); // 0.003
 * ```
 */
export function constant(): Schedule {
  return {
    name: "constant",
    lr(step: number, baseLr: number): number {
      checkStep("constant", step);
      return baseLr;
    },
  };
}

/** Options of {@link cosineAnnealing}. */
export interface CosineOptions {
  /** `T_max`: iterations from the initial rate down to `minLr`. */
  totalSteps: number;
  /** `eta_min`, the final rate; 0 unless given. */
  minLr?: number;
}

/**
 * Cosine annealing without restarts (`CosineAnnealingLR`, stepped every iteration):
 * `η_min + (η_max − η_min)·(1 + cos(π·t/T))/2`. Past `T` it continues the cosine, as PyTorch's
 * closed form does.
 *
 * @example
 * ```ts
 * import { cosineAnnealing } from "@hajime/nn";
 * const cosine = cosineAnnealing({ totalSteps: 100 });
 * console.log(cosine.lr(0, 0.2), cosine.lr(100, 0.2)); // 0.2 0
 * ```
 */
export function cosineAnnealing(options: CosineOptions): Schedule {
  const { totalSteps, minLr = 0 } = options;
  checkPositiveInteger("cosineAnnealing", "totalSteps", totalSteps);
  if (!(minLr >= 0)) throw new RangeError(`cosineAnnealing: minLr must be ≥ 0, got ${minLr}`);
  return {
    name: `cosine(T=${totalSteps}, min=${minLr})`,
    lr(step: number, baseLr: number): number {
      checkStep("cosineAnnealing", step);
      return minLr + (baseLr - minLr) * (1 + Math.cos(Math.PI * step / totalSteps)) / 2;
    },
  };
}

/** Options of {@link stepDecay}. */
export interface StepDecayOptions {
  /** `step_size`: iterations between decays. */
  stepSize: number;
  /** `gamma`: the factor applied at each decay; 0.1 unless given. */
  gamma?: number;
}

/**
 * Step decay (`StepLR`): `η·γ^⌊t/stepSize⌋`. Counted in iterations; for a per-epoch decay pass
 * `epochs × steps per epoch`.
 *
 * @example
 * ```ts
 * import { stepDecay } from "@hajime/nn";
 * const decay = stepDecay({ stepSize: 30, gamma: 0.1 });
 * console.log(decay.lr(29, 1), decay.lr(30, 1)); // 1 0.1
 * ```
 */
export function stepDecay(options: StepDecayOptions): Schedule {
  const { stepSize, gamma = 0.1 } = options;
  checkPositiveInteger("stepDecay", "stepSize", stepSize);
  if (!(gamma > 0)) throw new RangeError(`stepDecay: gamma must be > 0, got ${gamma}`);
  return {
    name: `step(size=${stepSize}, gamma=${gamma})`,
    lr(step: number, baseLr: number): number {
      checkStep("stepDecay", step);
      return baseLr * gamma ** Math.floor(step / stepSize);
    },
  };
}

/** Options of {@link linearWarmup}. */
export interface WarmupOptions {
  /** Iterations of warmup. */
  warmupSteps: number;
  /** `start_factor`: the fraction of the rate at step 0, in (0, 1]; PyTorch's 1/3 unless given. */
  startFactor?: number;
}

/**
 * Linear warmup, then `after`: `SequentialLR([LinearLR(startFactor, 1, warmupSteps), after],
 * milestones=[warmupSteps])`. During warmup the rate is `η·(s + (1 − s)·t/W)`; from step `W` on it
 * is `after` at step `t − W` (so `after` starts from its own beginning).
 *
 * @example
 * ```ts
 * import { cosineAnnealing, linearWarmup } from "@hajime/nn";
 * const schedule = linearWarmup(cosineAnnealing({ totalSteps: 900 }), {
 *   warmupSteps: 100,
 *   startFactor: 0.01,
 * });
 * console.log(schedule.lr(0, 0.1), schedule.lr(100, 0.1)); // 0.001 0.1
 * ```
 */
export function linearWarmup(after: Schedule, options: WarmupOptions): Schedule {
  const { warmupSteps, startFactor = 1 / 3 } = options;
  checkPositiveInteger("linearWarmup", "warmupSteps", warmupSteps);
  if (!(startFactor > 0 && startFactor <= 1)) {
    throw new RangeError(`linearWarmup: startFactor must be in (0, 1], got ${startFactor}`);
  }
  return {
    name: `warmup(${warmupSteps}, from ${startFactor}) then ${after.name}`,
    lr(step: number, baseLr: number): number {
      checkStep("linearWarmup", step);
      if (step >= warmupSteps) return after.lr(step - warmupSteps, baseLr);
      return baseLr * (startFactor + (1 - startFactor) * step / warmupSteps);
    },
    momentum(step: number): number | undefined {
      return step >= warmupSteps ? after.momentum?.(step - warmupSteps) : undefined;
    },
  };
}

/** Options of {@link oneCycle}, with `OneCycleLR`'s defaults. */
export interface OneCycleOptions {
  /** `total_steps`: iterations in the cycle. */
  totalSteps: number;
  /** `max_lr`: the peak rate; the group's initial learning rate unless given. */
  maxLr?: number;
  /** `pct_start`: fraction of the cycle spent increasing the rate; 0.3. */
  pctStart?: number;
  /** `anneal_strategy`: `"cos"` (default) or `"linear"`. */
  annealStrategy?: "cos" | "linear";
  /** `cycle_momentum`: cycle the momentum inversely to the rate; true. */
  cycleMomentum?: boolean;
  /** `base_momentum`: the lowest momentum, reached at the peak rate; 0.85. */
  baseMomentum?: number;
  /** `max_momentum`: the momentum at the start and end; 0.95. */
  maxMomentum?: number;
  /** `div_factor`: initial rate = maxLr / divFactor; 25. */
  divFactor?: number;
  /** `final_div_factor`: final rate = initial rate / finalDivFactor; 1e4. */
  finalDivFactor?: number;
  /** `three_phase`: Smith's three phases (up, back down to the initial rate, annihilate); false. */
  threePhase?: boolean;
}

interface Phase {
  end: number;
  startLr: (max: number) => number;
  endLr: (max: number) => number;
  startMomentum: number;
  endMomentum: number;
}

/**
 * The one-cycle policy exactly as `torch.optim.lr_scheduler.OneCycleLR` with its defaults:
 * the rate rises from `maxLr/25` to `maxLr` over the first 30 % of the steps and anneals to
 * `maxLr/25/1e4`, while the momentum moves from 0.95 to 0.85 and back. Like PyTorch it throws
 * past `totalSteps`.
 *
 * @example
 * ```ts
 * import { oneCycle } from "@hajime/nn";
 * const cycle = oneCycle({ totalSteps: 1000, maxLr: 0.1 });
 * console.log(cycle.lr(0, 0.1), cycle.lr(299, 0.1), cycle.momentum?.(299)); // 0.004 0.1 0.85
 * ```
 */
export function oneCycle(options: OneCycleOptions): Schedule {
  const {
    totalSteps,
    maxLr,
    pctStart = 0.3,
    annealStrategy = "cos",
    cycleMomentum = true,
    baseMomentum = 0.85,
    maxMomentum = 0.95,
    divFactor = 25,
    finalDivFactor = 1e4,
    threePhase = false,
  } = options;
  checkPositiveInteger("oneCycle", "totalSteps", totalSteps);
  if (!(pctStart >= 0 && pctStart <= 1)) {
    throw new RangeError(`oneCycle: pctStart must be in [0, 1], got ${pctStart}`);
  }
  if (annealStrategy !== "cos" && annealStrategy !== "linear") {
    throw new RangeError(
      `oneCycle: annealStrategy must be "cos" or "linear", got ${annealStrategy}`,
    );
  }
  if (maxLr !== undefined && !(maxLr >= 0)) {
    throw new RangeError(`oneCycle: maxLr must be ≥ 0, got ${maxLr}`);
  }
  if (!(divFactor > 0) || !(finalDivFactor > 0)) {
    throw new RangeError(
      `oneCycle: divFactor and finalDivFactor must be > 0, got ${divFactor}, ${finalDivFactor}`,
    );
  }
  const initial = (max: number) => max / divFactor;
  const peak = (max: number) => max;
  const min = (max: number) => max / divFactor / finalDivFactor;
  const phases: Phase[] = threePhase
    ? [
      {
        end: pctStart * totalSteps - 1,
        startLr: initial,
        endLr: peak,
        startMomentum: maxMomentum,
        endMomentum: baseMomentum,
      },
      {
        end: 2 * pctStart * totalSteps - 2,
        startLr: peak,
        endLr: initial,
        startMomentum: baseMomentum,
        endMomentum: maxMomentum,
      },
      {
        end: totalSteps - 1,
        startLr: initial,
        endLr: min,
        startMomentum: maxMomentum,
        endMomentum: maxMomentum,
      },
    ]
    : [
      {
        end: pctStart * totalSteps - 1,
        startLr: initial,
        endLr: peak,
        startMomentum: maxMomentum,
        endMomentum: baseMomentum,
      },
      {
        end: totalSteps - 1,
        startLr: peak,
        endLr: min,
        startMomentum: baseMomentum,
        endMomentum: maxMomentum,
      },
    ];
  const anneal = annealStrategy === "cos"
    ? (start: number, end: number, pct: number) =>
      end + (start - end) / 2 * (Math.cos(Math.PI * pct) + 1)
    : (start: number, end: number, pct: number) => (end - start) * pct + start;
  // The phase holding `step` and the fraction of it done, as OneCycleLR.get_lr walks them.
  const locate = (step: number): [Phase, number] => {
    checkStep("oneCycle", step);
    if (step > totalSteps) {
      throw new RangeError(`oneCycle: step ${step} is past totalSteps ${totalSteps}`);
    }
    let start = 0;
    for (const phase of phases.slice(0, -1)) {
      if (step <= phase.end) return [phase, (step - start) / (phase.end - start)];
      start = phase.end;
    }
    const last = phases[phases.length - 1];
    return [last, (step - start) / (last.end - start)];
  };
  return {
    name: `oneCycle(T=${totalSteps}, max=${maxLr ?? "base"})`,
    lr(step: number, baseLr: number): number {
      const [phase, pct] = locate(step);
      const max = maxLr ?? baseLr;
      return anneal(phase.startLr(max), phase.endLr(max), pct);
    },
    momentum(step: number): number | undefined {
      if (!cycleMomentum) return undefined;
      const [phase, pct] = locate(step);
      return anneal(phase.startMomentum, phase.endMomentum, pct);
    },
  };
}

/**
 * Sets every parameter group's learning rate (and, when the schedule cycles it, momentum) to
 * the schedule's value at `step`, scaled from each group's initial learning rate.
 *
 * @example
 * ```ts
 * import { applySchedule, cosineAnnealing, initGpu, Linear, SGD } from "@hajime/nn";
 * await initGpu();
 * const sgd = new SGD(new Linear(4, 2), { lr: 0.2, momentum: 0.9 });
 * applySchedule(sgd, cosineAnnealing({ totalSteps: 100 }), 50);
 * console.log(sgd.lr); // 0.1
 * ```
 */
export function applySchedule(
  optimizer: Optimizer<{ lr: number }>,
  schedule: Schedule,
  step: number,
): void {
  const momentum = schedule.momentum?.(step);
  for (const group of optimizer.groups) {
    group.lr = schedule.lr(step, group.initialLr);
    if (momentum !== undefined) optimizer.setMomentum(group, momentum);
  }
}
