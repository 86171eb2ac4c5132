/**
 * Learning-rate schedules against PyTorch's formulas: the closed forms in the docs and the
 * recursive `get_lr` updates `torch.optim.lr_scheduler` actually steps with (transcribed here),
 * which must agree at every iteration.
 *
 * @module
 */

import {
  constant,
  cosineAnnealing,
  linearWarmup,
  oneCycle,
  type Schedule,
  stepDecay,
} from "../src/optim/schedules.ts";
import { assert, assertClose, assertThrows } from "./assert.ts";

function curve(schedule: Schedule, steps: number, baseLr: number): number[] {
  return Array.from({ length: steps }, (_, t) => schedule.lr(t, baseLr));
}

/** CosineAnnealingLR.get_lr (the recursive form used by scheduler.step()). */
function torchCosine(baseLr: number, etaMin: number, tMax: number, steps: number): number[] {
  const out: number[] = [];
  let lr = baseLr;
  for (let t = 0; t < steps; t++) {
    if (t === 0) lr = baseLr;
    else if ((t - 1 - tMax) % (2 * tMax) === 0) {
      lr = lr + (baseLr - etaMin) * (1 - Math.cos(Math.PI / tMax)) / 2;
    } else {
      lr = (1 + Math.cos(Math.PI * t / tMax)) / (1 + Math.cos(Math.PI * (t - 1) / tMax)) *
          (lr - etaMin) + etaMin;
    }
    out.push(lr);
  }
  return out;
}

/** StepLR.get_lr. */
function torchStep(baseLr: number, stepSize: number, gamma: number, steps: number): number[] {
  const out: number[] = [];
  let lr = baseLr;
  for (let t = 0; t < steps; t++) {
    if (t !== 0 && t % stepSize === 0) lr *= gamma;
    out.push(lr);
  }
  return out;
}

/** LinearLR.get_lr (end_factor 1). */
function torchLinear(baseLr: number, start: number, total: number, steps: number): number[] {
  const out: number[] = [];
  let lr = baseLr;
  for (let t = 0; t < steps; t++) {
    if (t === 0) lr = baseLr * start;
    else if (t <= total) lr = lr * (1 + (1 - start) / (total * start + (t - 1) * (1 - start)));
    out.push(lr);
  }
  return out;
}

/** OneCycleLR.get_lr, transcribed (two or three phases, cos or linear annealing). */
function torchOneCycle(
  maxLr: number,
  total: number,
  opts: { pct?: number; threePhase?: boolean; linear?: boolean } = {},
): { lr: number[]; momentum: number[] } {
  const pct = opts.pct ?? 0.3;
  const initial = maxLr / 25;
  const min = initial / 1e4;
  const phases = opts.threePhase
    ? [
      [pct * total - 1, initial, maxLr, 0.95, 0.85],
      [2 * pct * total - 2, maxLr, initial, 0.85, 0.95],
      [total - 1, initial, min, 0.95, 0.95],
    ]
    : [[pct * total - 1, initial, maxLr, 0.95, 0.85], [total - 1, maxLr, min, 0.85, 0.95]];
  const anneal = opts.linear
    ? (s: number, e: number, p: number) => (e - s) * p + s
    : (s: number, e: number, p: number) => e + (s - e) / 2 * (Math.cos(Math.PI * p) + 1);
  const lr: number[] = [];
  const momentum: number[] = [];
  for (let step = 0; step < total; step++) {
    let start = 0;
    for (let i = 0; i < phases.length; i++) {
      const [end, sLr, eLr, sM, eM] = phases[i];
      if (step <= end || i === phases.length - 1) {
        const p = (step - start) / (end - start);
        lr.push(anneal(sLr, eLr, p));
        momentum.push(anneal(sM, eM, p));
        break;
      }
      start = end;
    }
  }
  return { lr, momentum };
}

Deno.test("constant keeps the base rate", () => {
  assertClose(curve(constant(), 5, 0.003), [0.003, 0.003, 0.003, 0.003, 0.003], { atol: 0 });
});

Deno.test("cosine annealing: closed form equals PyTorch's recursive steps over two periods", () => {
  for (const [baseLr, etaMin, tMax] of [[0.2, 0, 100], [0.1, 0.001, 37], [1, 0.5, 1]]) {
    const ours = curve(cosineAnnealing({ totalSteps: tMax, minLr: etaMin }), 2 * tMax + 3, baseLr);
    assertClose(ours, torchCosine(baseLr, etaMin, tMax, 2 * tMax + 3), {
      atol: 1e-12,
      rtol: 1e-10,
    });
    const closed = ours.map((_, t) =>
      etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * t / tMax)) / 2
    );
    assertClose(ours, closed, { atol: 1e-15, rtol: 0 });
  }
  const cosine = cosineAnnealing({ totalSteps: 1000 });
  assertClose([cosine.lr(0, 0.2), cosine.lr(500, 0.2), cosine.lr(1000, 0.2)], [0.2, 0.1, 0], {
    atol: 1e-15,
  });
});

Deno.test("step decay equals StepLR", () => {
  assertClose(curve(stepDecay({ stepSize: 7, gamma: 0.5 }), 40, 0.3), torchStep(0.3, 7, 0.5, 40), {
    atol: 1e-15,
    rtol: 1e-12,
  });
  assertClose(curve(stepDecay({ stepSize: 3 }), 10, 1), torchStep(1, 3, 0.1, 10), { atol: 1e-15 });
});

Deno.test("linear warmup equals SequentialLR(LinearLR, inner)", () => {
  const warm = 10;
  const inner = cosineAnnealing({ totalSteps: 50, minLr: 0.001 });
  for (const startFactor of [1 / 3, 0.01, 1]) {
    const schedule = linearWarmup(inner, { warmupSteps: warm, startFactor });
    const ours = curve(schedule, 60, 0.1);
    const expected = [
      ...torchLinear(0.1, startFactor, warm, warm),
      ...torchCosine(0.1, 0.001, 50, 50),
    ];
    assertClose(ours, expected, { atol: 1e-14, rtol: 1e-12 });
  }
  const plain = linearWarmup(constant(), { warmupSteps: 4, startFactor: 0.2 });
  assertClose(curve(plain, 6, 1), [0.2, 0.4, 0.6, 0.8, 1, 1], { atol: 1e-15 });
  assert(plain.momentum?.(0) === undefined, "warmup of a constant schedule leaves momentum alone");
});

Deno.test("one-cycle equals OneCycleLR with its defaults, two and three phases", () => {
  for (const opts of [{}, { threePhase: true }, { linear: true }, { pct: 0.25 }]) {
    const schedule = oneCycle({
      totalSteps: 100,
      maxLr: 0.1,
      threePhase: "threePhase" in opts,
      annealStrategy: "linear" in opts ? "linear" : "cos",
      pctStart: (opts as { pct?: number }).pct ?? 0.3,
    });
    const expected = torchOneCycle(0.1, 100, opts);
    assertClose(curve(schedule, 100, 123), expected.lr, { atol: 1e-15, rtol: 1e-12 });
    const momentum = Array.from({ length: 100 }, (_, t) => schedule.momentum!(t)!);
    assertClose(momentum, expected.momentum, { atol: 1e-15, rtol: 1e-12 });
  }
  const cycle = oneCycle({ totalSteps: 1000 });
  // maxLr defaults to the group's rate: initial maxLr/25, peak at step 299, end maxLr/25/1e4.
  assertClose([cycle.lr(0, 0.1), cycle.lr(299, 0.1), cycle.lr(999, 0.1)], [0.004, 0.1, 4e-7], {
    atol: 1e-15,
    rtol: 1e-12,
  });
  assertClose([cycle.momentum!(0)!, cycle.momentum!(299)!, cycle.momentum!(999)!], [
    0.95,
    0.85,
    0.95,
  ], { atol: 1e-15 });
  assert(oneCycle({ totalSteps: 10, cycleMomentum: false }).momentum!(3) === undefined);
  assertThrows(() => cycle.lr(1001, 0.1), "past totalSteps");
});

Deno.test("schedules reject bad options and steps, naming them", () => {
  assertThrows(() => cosineAnnealing({ totalSteps: 0 }), "totalSteps");
  assertThrows(() => cosineAnnealing({ totalSteps: 10, minLr: -1 }), "minLr");
  assertThrows(() => stepDecay({ stepSize: 1.5 }), "stepSize");
  assertThrows(() => stepDecay({ stepSize: 2, gamma: 0 }), "gamma");
  assertThrows(() => linearWarmup(constant(), { warmupSteps: 5, startFactor: 0 }), "startFactor");
  assertThrows(() => oneCycle({ totalSteps: 10, pctStart: 2 }), "pctStart");
  assertThrows(() => constant().lr(-1, 0.1), "step");
  assertThrows(() => cosineAnnealing({ totalSteps: 5 }).lr(0.5, 0.1), "step");
});
