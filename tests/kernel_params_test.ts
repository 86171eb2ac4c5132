/**
 * Checks every kernel declared with `wgslKernels` against the WGSL it runs (src/gpu/kernel.ts's
 * rules): its entry point exists, is `@compute` and camelCase, and its label is
 * `Owner.entryPoint`; the params record lists the fields of the uniform struct the entry point
 * reads, by name, type and order, 4 bytes each; the storage buffers it reads are bound after the
 * params, read-only inputs first, then read-write outputs, within the declared counts. Every entry
 * point of shaders/ must be declared. Needs no GPU: it reads the declarations and the sources.
 *
 * The checker parses just enough WGSL: comments, structs, module-scope resources, and functions
 * with the identifiers they use, followed through the helpers each entry point calls.
 *
 * @module
 */

import "../mod.ts";
import { declaredKernels, type ParamType } from "../gpu.ts";
import { assert } from "./assert.ts";

/** A struct member: its attributes (`@align`, `@size`), name and type. */
interface Member {
  attributes: string;
  name: string;
  type: string;
}

/** A module-scope `var` bound to `@group(g) @binding(b)`. */
interface Resource {
  group: number;
  binding: number;
  /** `uniform` or `storage`. */
  space: string;
  /** `read` or `read_write` for storage; empty for uniform. */
  access: string;
  type: string;
}

/** A function: whether it is a compute entry point, and the outer names its body uses. */
interface Fn {
  compute: boolean;
  uses: Set<string>;
}

/** What the checks read of one WGSL source. */
interface Wgsl {
  structs: Map<string, Member[]>;
  resources: Map<string, Resource>;
  functions: Map<string, Fn>;
}

/** Splits at `separator` outside <>, () and []. */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if ("<([".includes(ch)) depth++;
    else if (">)]".includes(ch)) depth--;
    else if (ch === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

/** The index of the bracket closing the one at `open`. */
function closing(text: string, open: number): number {
  const [o, c] = text[open] === "(" ? ["(", ")"] : ["{", "}"];
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === o) depth++;
    else if (text[i] === c && --depth === 0) return i;
  }
  throw new Error(`unbalanced ${o} at ${open}`);
}

/** Parses structs, bound resources and functions; throws on a resource it cannot read. */
function parseWgsl(source: string): Wgsl {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, "");
  const structs = new Map<string, Member[]>();
  for (const [, name, body] of code.matchAll(/\bstruct\s+(\w+)\s*\{([^}]*)\}/g)) {
    structs.set(
      name,
      splitTopLevel(body, ",").map((member) => {
        const m = /^((?:@\w+(?:\([^)]*\))?\s*)*)(\w+)\s*:\s*(.+)$/s.exec(member);
        if (!m) throw new Error(`struct ${name}: cannot read member "${member}"`);
        return { attributes: m[1].trim(), name: m[2], type: m[3].replace(/\s+/g, "") };
      }),
    );
  }
  const resources = new Map<string, Resource>();
  const bound =
    /((?:@(?:group|binding)\(\s*\d+\s*\)\s*)+)var\s*<\s*(\w+)\s*(?:,\s*(\w+)\s*)?>\s*(\w+)\s*:\s*([^;]+);/g;
  for (const [, attributes, space, access, name, type] of code.matchAll(bound)) {
    const group = /@group\(\s*(\d+)\s*\)/.exec(attributes);
    const binding = /@binding\(\s*(\d+)\s*\)/.exec(attributes);
    if (!group || !binding) throw new Error(`${name}: needs both @group and @binding`);
    resources.set(name, {
      group: Number(group[1]),
      binding: Number(binding[1]),
      space,
      access: access ?? (space === "storage" ? "read" : ""),
      type: type.replace(/\s+/g, ""),
    });
  }
  const declaredResources = [...code.matchAll(/\bvar\s*<\s*(uniform|storage)\b/g)].length;
  if (declaredResources !== resources.size) {
    throw new Error(`read ${resources.size} of ${declaredResources} uniform and storage vars`);
  }
  const functions = new Map<string, Fn>();
  let end = 0;
  for (const match of code.matchAll(/\bfn\s+(\w+)\s*\(/g)) {
    if (match.index < end) throw new Error(`fn ${match[1]} inside another function`);
    const before = code.slice(0, match.index);
    const attributes = before.slice(
      Math.max(before.lastIndexOf("}"), before.lastIndexOf(";")) + 1,
    );
    const paramsEnd = closing(code, match.index + match[0].length - 1);
    const open = code.indexOf("{", paramsEnd);
    end = closing(code, open);
    const signature = code.slice(match.index + match[0].length, paramsEnd);
    const body = code.slice(open, end + 1);
    const locals = new Set([
      ...[...signature.matchAll(/(\w+)\s*:/g)].map((m) => m[1]),
      ...[...body.matchAll(/\b(?:let|var|const)\s*(?:<[^>]*>)?\s*(\w+)/g)].map((m) => m[1]),
    ]);
    // Member names after a dot are not references to outer names.
    const names = body.replace(/\.\s*[A-Za-z_]\w*/g, "").match(/\b[A-Za-z_]\w*\b/g) ?? [];
    functions.set(match[1], {
      compute: /@compute\b/.test(attributes),
      uses: new Set(names.filter((n) => !locals.has(n))),
    });
  }
  return { structs, resources, functions };
}

/** Size (and alignment) of a struct member, for the scalar types and the 2- and 4-vectors. */
const SIZES: Record<string, number> = {
  u32: 4,
  i32: 4,
  f32: 4,
  vec2u: 8,
  vec2i: 8,
  vec2f: 8,
  vec4u: 16,
  vec4i: 16,
  vec4f: 16,
};

/** Differences between a params struct and the TS record that fills it, field by field. */
function compareParams(
  struct: string,
  members: Member[],
  params: Readonly<Record<string, ParamType>>,
): string[] {
  const errors: string[] = [];
  const fields = Object.entries(params);
  const show = (name: string, type: string) => `${name}: ${type}`;
  for (let i = 0; i < Math.max(members.length, fields.length); i++) {
    const wgsl = members[i];
    const ts = fields[i];
    if (!ts) errors.push(`field ${i} ${show(wgsl.name, wgsl.type)} of ${struct} is missing in TS`);
    else if (!wgsl) errors.push(`field ${i} ${show(...ts)} in TS is not in ${struct}`);
    else if (wgsl.name !== ts[0] || wgsl.type !== ts[1]) {
      errors.push(`field ${i} is ${show(wgsl.name, wgsl.type)} in ${struct}, ${show(...ts)} in TS`);
    }
    if (wgsl && wgsl.attributes !== "") {
      errors.push(`field ${wgsl.name} of ${struct} has ${wgsl.attributes}: no padding allowed`);
    }
  }
  // WGSL's layout: each member at the next multiple of its alignment (its size, for these types),
  // the struct rounded up to its largest alignment.
  let size = 0;
  for (const m of members) {
    if (!["u32", "i32", "f32"].includes(m.type)) {
      errors.push(`field ${m.name} of ${struct} has type ${m.type}, not u32, i32 or f32`);
    }
    const bytes = SIZES[m.type] ?? 4;
    size = Math.ceil(size / bytes) * bytes + bytes;
  }
  const align = Math.max(4, ...members.map((m) => SIZES[m.type] ?? 4));
  size = Math.ceil(size / align) * align;
  if (size !== 4 * fields.length) {
    errors.push(`${struct} takes ${size} bytes, the TS record writes ${4 * fields.length}`);
  }
  return errors;
}

/** The outer names an entry point uses, through every function it calls. */
function reachable(wgsl: Wgsl, entryPoint: string): Set<string> {
  const seen = new Set<string>();
  const visit = (fn: string) => {
    for (const name of wgsl.functions.get(fn)!.uses) {
      if (seen.has(name)) continue;
      seen.add(name);
      if (wgsl.functions.has(name)) visit(name);
    }
  };
  visit(entryPoint);
  return seen;
}

/** A kernel's declaration, as `wgslKernels` gives it to `Kernel`. */
interface Declaration {
  label: string;
  code: string;
  entryPoint: string;
  params: Readonly<Record<string, ParamType>>;
  inputs: number;
  outputs: number;
}

/** Everything wrong with one declaration against its WGSL: empty when they agree. */
function checkDeclaration(d: Declaration, wgsl = parseWgsl(d.code)): string[] {
  const fn = wgsl.functions.get(d.entryPoint);
  if (!fn) return [`no function ${d.entryPoint}`];
  const errors: string[] = [];
  if (!fn.compute) errors.push(`${d.entryPoint} is not a @compute entry point`);
  if (!/^[a-z][A-Za-z0-9]*$/.test(d.entryPoint)) {
    errors.push(`entry point ${d.entryPoint} is not camelCase`);
  }
  if (!d.label.endsWith(`.${d.entryPoint}`)) {
    errors.push(`label ${d.label} is not Owner.${d.entryPoint}`);
  }
  const used = [...reachable(wgsl, d.entryPoint)].filter((n) => wgsl.resources.has(n));
  const uniforms = used.filter((n) => wgsl.resources.get(n)!.space === "uniform");
  if (uniforms.length > 1) errors.push(`reads ${uniforms.length} uniforms: ${uniforms}`);
  if (uniforms.length === 0 && Object.keys(d.params).length > 0) {
    errors.push(`declares params but reads no uniform`);
  }
  for (const name of uniforms) {
    const r = wgsl.resources.get(name)!;
    if (r.group !== 0 || r.binding !== 0) {
      errors.push(`params ${name} at @group(${r.group}) @binding(${r.binding}), not (0) (0)`);
    }
    const members = wgsl.structs.get(r.type);
    if (!members) errors.push(`params ${name} has type ${r.type}, not a struct of the file`);
    else errors.push(...compareParams(`struct ${r.type}`, members, d.params));
  }
  for (const name of used.filter((n) => wgsl.resources.get(n)!.space === "storage")) {
    const r = wgsl.resources.get(name)!;
    const slot = r.binding <= d.inputs ? "read" : "read_write";
    if (r.group !== 0 || r.binding < 1 || r.binding > d.inputs + d.outputs) {
      errors.push(
        `${name} at @group(${r.group}) @binding(${r.binding}) is outside bindings 1..` +
          `${d.inputs + d.outputs} (${d.inputs} inputs, ${d.outputs} outputs)`,
      );
    } else if (r.access !== slot) {
      errors.push(
        `${name} at @binding(${r.binding}) is ${r.access}, but binding ${r.binding} is ` +
          `${slot === "read" ? "an input (read)" : "an output (read_write)"}`,
      );
    }
  }
  return errors;
}

const SHADERS = new URL("../shaders/", import.meta.url);
const shaderFiles = new Map(
  [...Deno.readDirSync(SHADERS)]
    .filter((e) => e.name.endsWith(".wgsl"))
    .map((e) => [e.name, Deno.readTextFileSync(new URL(e.name, SHADERS))]),
);
const parsed = new Map([...shaderFiles].map(([name, code]) => [name, parseWgsl(code)]));

/** The shaders/ file whose text a declaration runs, or undefined. */
function fileOf(code: string): string | undefined {
  return [...shaderFiles].find(([, text]) => text === code)?.[0];
}

Deno.test("every declared kernel agrees with its WGSL: params field by field, bindings, names", () => {
  const kernels = declaredKernels();
  assert(kernels.length >= 80, `only ${kernels.length} kernels declared`);
  const errors: string[] = [];
  for (const { spec } of kernels) {
    const file = fileOf(spec.code);
    if (!file) {
      errors.push(`${spec.label}: its code is no file of shaders/`);
      continue;
    }
    for (const e of checkDeclaration(spec, parsed.get(file))) {
      errors.push(`${spec.label} (shaders/${file}): ${e}`);
    }
  }
  assert(errors.length === 0, `${errors.length} mismatches:\n${errors.join("\n")}`);
});

Deno.test("every entry point of shaders/ is declared", () => {
  const declared = new Set(
    declaredKernels().map(({ spec }) => `${fileOf(spec.code)}:${spec.entryPoint}`),
  );
  const missing = [...parsed].flatMap(([file, wgsl]) =>
    [...wgsl.functions].filter(([name, fn]) => fn.compute && !declared.has(`${file}:${name}`))
      .map(([name]) => `shaders/${file}: ${name}`)
  );
  assert(missing.length === 0, `entry points no kernel declares:\n${missing.join("\n")}`);
});

/** A small shader whose helper reads the params and the input, as the real ones do. */
const SAMPLE = `
struct Params {
  n: u32,      // elements
  scale: f32,
  offset: i32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn scaled(i: u32) -> f32 {
  return x[i] * params.scale;
}

@compute @workgroup_size(64)
fn scaleAll(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < params.n) {
    y[id.x] = scaled(id.x) + f32(params.offset);
  }
}
`;
const GOOD: Declaration = {
  label: "Sample.scaleAll",
  code: SAMPLE,
  entryPoint: "scaleAll",
  params: { n: "u32", scale: "f32", offset: "i32" },
  inputs: 1,
  outputs: 1,
};

Deno.test("the check passes a matching pair and names each kind of mismatch", () => {
  assert(checkDeclaration(GOOD).length === 0, checkDeclaration(GOOD).join("\n"));
  const cases: [string, Partial<Declaration>, string][] = [
    ["a field only in TS", { params: { ...GOOD.params, extra: "u32" } }, "extra: u32 in TS"],
    ["a field only in WGSL", { params: { n: "u32", scale: "f32" } }, "offset: i32 of struct"],
    ["a renamed field", { params: { n: "u32", factor: "f32", offset: "i32" } }, "factor"],
    ["reordered fields", { params: { scale: "f32", n: "u32", offset: "i32" } }, "field 0"],
    ["a retyped field", { params: { n: "u32", scale: "u32", offset: "i32" } }, "scale: u32"],
    ["an output bound as an input", { inputs: 2, outputs: 0 }, "y at @binding(2)"],
    ["an input bound as an output", { inputs: 0, outputs: 2 }, "x at @binding(1)"],
    ["too few buffers", { inputs: 1, outputs: 0 }, "outside bindings 1..1"],
    ["a snake_case entry point", {
      code: SAMPLE.replace("scaleAll", "scale_all"),
      entryPoint: "scale_all",
      label: "Sample.scale_all",
    }, "not camelCase"],
    ["a label not Owner.entryPoint", { label: "Sample.other" }, "not Owner.scaleAll"],
    ["a missing entry point", { entryPoint: "nothing" }, "no function nothing"],
    ["a padded struct", {
      code: SAMPLE.replace("scale: f32", "@size(8) scale: f32"),
    }, "no padding"],
    ["a vector field", {
      code: SAMPLE.replace("offset: i32,", "offset: i32,\n  tint: vec4f,"),
    }, "takes 32 bytes"],
  ];
  for (const [what, change, expected] of cases) {
    const errors = checkDeclaration({ ...GOOD, ...change });
    assert(
      errors.some((e) => e.includes(expected)),
      `${what}: expected an error with "${expected}", got ${JSON.stringify(errors)}`,
    );
  }
});
