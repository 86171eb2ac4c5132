/**
 * A stand-in for the part of the `Deno` namespace the kernel test files use (`Deno.test`, and
 * `Deno.env.get` for HAJIME_SEED), so that those very files run in a browser page: tests register
 * here and {@linkcode runRegistered} runs them one after another, as `deno test` does.
 *
 * @module
 */

import { sync } from "../../gpu.ts";

type TestFn = () => unknown;

interface Registered {
  name: string;
  fn: TestFn;
  ignore: boolean;
}

/** One test's outcome. */
export interface TestOutcome {
  /** The name given to `Deno.test`. */
  name: string;
  /** `ok`, `failed` or `ignored`. */
  status: "ok" | "failed" | "ignored";
  /** Milliseconds it ran. */
  ms: number;
  /** The error (with its stack) of a failed test. */
  error?: string;
  /** What the test logged (e.g. its random seed, for HAJIME_SEED). */
  output: string;
}

const registered: Registered[] = [];

function test(first: string | { name: string; fn: TestFn; ignore?: boolean }, fn?: TestFn): void {
  if (typeof first === "string") {
    if (!fn) throw new Error(`Deno.test("${first}"): no test function`);
    registered.push({ name: first, fn, ignore: false });
  } else {
    registered.push({ name: first.name, fn: first.fn, ignore: first.ignore ?? false });
  }
}

/** Installs the stand-in as `globalThis.Deno`; `env` is what `Deno.env.get` answers. */
export function installDenoShim(env: Readonly<Record<string, string>> = {}): void {
  (globalThis as unknown as { Deno: unknown }).Deno = {
    test,
    env: { get: (name: string) => env[name] },
  };
}

/**
 * Runs every registered test in order; a test fails on a throw or on a GPU error reported before
 * its work finished (each ends with a `sync()`). `onResult` sees each outcome as it comes.
 */
export async function runRegistered(
  onResult: (outcome: TestOutcome) => void = () => {},
): Promise<TestOutcome[]> {
  const outcomes: TestOutcome[] = [];
  const log = console.log;
  for (const { name, fn, ignore } of registered) {
    const started = performance.now();
    let output = "";
    console.log = (...args: unknown[]) => void (output += args.join(" ") + "\n");
    let outcome: TestOutcome;
    if (ignore) {
      outcome = { name, status: "ignored", ms: 0, output };
    } else {
      try {
        await fn();
        await sync();
        outcome = { name, status: "ok", ms: performance.now() - started, output };
      } catch (error) {
        const text = error instanceof Error ? `${error.stack ?? error.message}` : String(error);
        outcome = { name, status: "failed", ms: performance.now() - started, error: text, output };
      } finally {
        console.log = log;
      }
    }
    outcomes.push(outcome);
    onResult(outcome);
  }
  return outcomes;
}
