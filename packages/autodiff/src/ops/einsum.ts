import { isFloat } from "../dtype.js";
import { argumentError, shapeError, show, showShape } from "../errors.js";
import { defineOp, type BatchResult, type SingleOutput } from "../registry.js";
import type { SampleKit } from "../sampling.js";
import { assertSizeWithinLimit, shapeSize, shapesEqual, type Shape } from "../shape.js";
import { Tensor, eye, type TensorLike } from "../tensor.js";
import { mul } from "./binary.js";
import { broadcastTo, sum } from "./broadcast.js";
import { cast } from "./cast.js";
import { matmul } from "./matmul.js";
import { reshape } from "./reshape.js";
import { batchFirst, transpose } from "./transpose.js";

// Einstein summation as one op. Every index is a label: 'A'–'Z' are 0–25 and 'a'–'z' 26–51, so
// sorting labels gives NumPy's implicit output order (capitals first), and the axes under '...'
// are 52 + their position counted from the right, so that they broadcast right-aligned as NumPy
// broadcasting does. The forward contracts operands left to right, two at a time, each pair as
// one batched matmul: labels both keep that the output needs are the batch, labels both have
// that it does not are the inner dimension, and each side's own labels are the rows or columns.
// The gradient of an operand is an einsum of dy and the other operands with the operand's own
// subscripts as output, so it is differentiable in turn.

const LETTERS = 52;
const ELLIPSIS = "...";

/** A term's tokens: letter labels (0–51) and at most one ellipsis. */
type Token = number | typeof ELLIPSIS;

/** The subscripts as written: one term per operand and the output's (null: implicit). */
interface Subscripts {
  readonly terms: readonly (readonly Token[])[];
  readonly output: readonly Token[] | null;
}

function labelOf(c: string): number | undefined {
  const code = c.charCodeAt(0);
  if (code >= 65 && code <= 90) return code - 65;
  if (code >= 97 && code <= 122) return code - 97 + 26;
  return undefined;
}

function letterOf(label: number): string {
  return String.fromCharCode(label < 26 ? 65 + label : 97 + label - 26);
}

function termText(tokens: readonly Token[]): string {
  return tokens.map((t) => (t === ELLIPSIS ? ELLIPSIS : letterOf(t))).join("");
}

/** Splits an equation into its terms, rejecting anything but letters, '...', ',' and '->'. */
function parseSubscripts(equation: unknown): Subscripts {
  if (typeof equation !== "string") {
    throw argumentError(
      "einsum",
      `equation must be a string such as "ij,jk->ik", got ${show(equation)}`,
    );
  }
  const text = equation.replace(/\s/g, "");
  const arrow = text.indexOf("->");
  if (arrow !== -1 && text.indexOf("->", arrow + 2) !== -1) {
    throw argumentError("einsum", `equation "${equation}" has more than one '->'`);
  }
  const parseTerm = (term: string, offset: number): Token[] => {
    const tokens: Token[] = [];
    for (let i = 0; i < term.length; i++) {
      if (term.startsWith(ELLIPSIS, i)) {
        if (tokens.includes(ELLIPSIS)) {
          throw argumentError(
            "einsum",
            `the term "${term}" of "${equation}" has more than one '...'`,
          );
        }
        tokens.push(ELLIPSIS);
        i += 2;
        continue;
      }
      const label = labelOf(term[i]!);
      if (label === undefined) {
        throw argumentError(
          "einsum",
          `unknown character '${term[i]}' at position ${offset + i} of "${text}": subscripts ` +
            `are the letters a–z and A–Z, '...', ',' and '->'`,
        );
      }
      tokens.push(label);
    }
    return tokens;
  };
  const left = arrow === -1 ? text : text.slice(0, arrow);
  let offset = 0;
  const terms = left.split(",").map((term) => {
    const tokens = parseTerm(term, offset);
    offset += term.length + 1;
    return tokens;
  });
  const output = arrow === -1 ? null : parseTerm(text.slice(arrow + 2), arrow + 2);
  return { terms, output };
}

/** The output of an implicit equation: '...' first, then the letters used once, sorted. */
function implicitOutput(terms: readonly (readonly Token[])[]): Token[] {
  const counts = new Map<number, number>();
  for (const term of terms) {
    for (const t of term) if (t !== ELLIPSIS) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  const once = [...counts].filter(([, n]) => n === 1).map(([label]) => label);
  const ellipsis: Token[] = terms.some((term) => term.includes(ELLIPSIS)) ? [ELLIPSIS] : [];
  return [...ellipsis, ...once.sort((a, b) => a - b)];
}

/** An equation resolved against its operands' shapes. */
interface Resolved {
  /**
   * The labels of each operand's axes, less those of its size-1 axes that broadcast against a
   * longer one: the operand reshaped to these is one that does not depend on them.
   */
  readonly effective: readonly (readonly number[])[];
  /** The labels of the result's axes. */
  readonly output: readonly number[];
  /** Each label's size (after broadcasting). */
  readonly sizes: ReadonlyMap<number, number>;
}

function resolve(subscripts: Subscripts, shapes: readonly Shape[]): Resolved {
  const { terms } = subscripts;
  if (shapes.length === 0) throw argumentError("einsum", "expected at least one operand, got none");
  if (terms.length !== shapes.length) {
    const written = terms.map(termText).join(",");
    throw argumentError(
      "einsum",
      `the equation has ${terms.length} operand terms ("${written}") but ${shapes.length} ` +
        `operands were given`,
    );
  }
  const sizes = new Map<number, number>();
  // Where each label got its size, for messages: operand i.
  const source = new Map<number, number>();
  const labels = terms.map((term, i) => {
    const shape = shapes[i]!;
    const letters = term.filter((t) => t !== ELLIPSIS).length;
    const hasEllipsis = term.includes(ELLIPSIS);
    if (hasEllipsis ? shape.length < letters : shape.length !== letters) {
      throw shapeError(
        "einsum",
        `operand ${i} has shape ${showShape(shape)} (rank ${shape.length}), but its subscripts ` +
          `"${termText(term)}" name ${hasEllipsis ? "at least " : ""}${letters} axes`,
      );
    }
    const spread = shape.length - letters;
    const axes = term.flatMap((t) =>
      t === ELLIPSIS ? Array.from({ length: spread }, (_, j) => LETTERS + spread - 1 - j) : [t],
    );
    const seen = new Set<number>();
    axes.forEach((label, axis) => {
      const size = shape[axis]!;
      if (label < LETTERS && seen.has(label)) {
        throw argumentError(
          "einsum",
          `operand ${i}'s subscripts "${termText(term)}" repeat '${letterOf(label)}': the einsum ` +
            `op takes no diagonals (the einsum function takes them before calling it)`,
        );
      }
      seen.add(label);
      const known = sizes.get(label);
      if (known === undefined || (label >= LETTERS && known === 1)) {
        sizes.set(label, size);
        source.set(label, i);
      } else if (known !== size && !(label >= LETTERS && size === 1)) {
        const j = source.get(label)!;
        if (label < LETTERS) {
          throw shapeError(
            "einsum",
            `index '${letterOf(label)}' has size ${known} in operand ${j} (shape ` +
              `${showShape(shapes[j]!)}) but size ${size} in operand ${i} (shape ${showShape(shape)})`,
          );
        }
        throw shapeError(
          "einsum",
          `the axes under '...' do not broadcast: operand ${j} has shape ` +
            `${showShape(shapes[j]!)} and operand ${i} has shape ${showShape(shape)}`,
        );
      }
    });
    return axes;
  });
  const spread = Math.max(...labels.map((axes) => axes.filter((l) => l >= LETTERS).length));
  const written = subscripts.output ?? implicitOutput(terms);
  const output = written.flatMap((t) =>
    t === ELLIPSIS ? Array.from({ length: spread }, (_, j) => LETTERS + spread - 1 - j) : [t],
  );
  const outputText = termText(written);
  output.forEach((label, k) => {
    if (!sizes.has(label)) {
      throw argumentError(
        "einsum",
        `output index '${letterOf(label)}' of "${outputText}" appears in no operand's subscripts`,
      );
    }
    if (output.indexOf(label) !== k) {
      throw argumentError(
        "einsum",
        `output index '${letterOf(label)}' appears more than once in "${outputText}"`,
      );
    }
  });
  const distinct = sizes.size;
  if (distinct > LETTERS) {
    throw argumentError(
      "einsum",
      `the equation uses ${distinct} distinct indices (letters and axes under '...'); at most ` +
        `${LETTERS} fit the letters its gradient is written with`,
    );
  }
  const effective = labels.map((axes, i) =>
    axes.filter((label, axis) => shapes[i]![axis] === sizes.get(label)),
  );
  return { effective, output, sizes };
}

/** The attrs' equation resolved against the operands' shapes. */
function resolveFor(equation: unknown, xs: readonly Tensor[]): Resolved {
  return resolve(
    parseSubscripts(equation),
    xs.map((x) => x.shape),
  );
}

/** A tensor with the label of each of its axes. */
interface Labelled {
  readonly x: Tensor;
  readonly labels: readonly number[];
}

function sizeOf(r: Resolved, labels: readonly number[]): number[] {
  return labels.map((l) => r.sizes.get(l)!);
}

/** x's axes put in the order of `labels` (x's own labels, rearranged). */
function arrange(a: Labelled, labels: readonly number[]): Tensor {
  const perm = labels.map((l) => a.labels.indexOf(l));
  return perm.every((p, i) => p === i) ? a.x : transpose(a.x, perm);
}

/** `a` summed over the labels `keep` rejects. */
function sumOut(a: Labelled, keep: (label: number) => boolean): Labelled {
  const axes = a.labels.flatMap((l, axis) => (keep(l) ? [] : [axis]));
  if (axes.length === 0) return a;
  return { x: sum(a.x, { axis: axes }), labels: a.labels.filter(keep) };
}

/** Σ over the labels of a and b not in `out`, as one batched matmul; axes in `out`'s order. */
function contract(r: Resolved, a: Labelled, b: Labelled, out: readonly number[]): Labelled {
  // A label only one side has and the result does not need is summed there first.
  const a1 = sumOut(a, (l) => b.labels.includes(l) || out.includes(l));
  const b1 = sumOut(b, (l) => a.labels.includes(l) || out.includes(l));
  const batch = out.filter((l) => a1.labels.includes(l) && b1.labels.includes(l));
  const inner = a1.labels.filter((l) => b1.labels.includes(l) && !out.includes(l));
  const rows = a1.labels.filter((l) => !b1.labels.includes(l));
  const cols = b1.labels.filter((l) => !a1.labels.includes(l));
  const count = (labels: readonly number[]) => shapeSize(sizeOf(r, labels));
  const am = reshape(arrange(a1, [...batch, ...rows, ...inner]), [
    count(batch),
    count(rows),
    count(inner),
  ]);
  const bm = reshape(arrange(b1, [...batch, ...inner, ...cols]), [
    count(batch),
    count(inner),
    count(cols),
  ]);
  const labels = [...batch, ...rows, ...cols];
  const y = reshape(matmul(am, bm), sizeOf(r, labels));
  return { x: arrange({ x: y, labels }, out), labels: out };
}

function forward(xs: readonly Tensor[], r: Resolved): Tensor {
  assertSizeWithinLimit("einsum", sizeOf(r, r.output));
  const operands: Labelled[] = xs.map((x, i) => ({
    x: reshape(x, sizeOf(r, r.effective[i]!)),
    labels: r.effective[i]!,
  }));
  let acc = operands[0]!;
  if (operands.length === 1) {
    const reduced = sumOut(acc, (l) => r.output.includes(l));
    acc = { x: arrange(reduced, r.output), labels: r.output };
  }
  for (let i = 1; i < operands.length; i++) {
    // Keep what the output or a later operand still needs; the last step gives the output.
    const later = new Set([...r.output, ...operands.slice(i + 1).flatMap((o) => o.labels)]);
    const both = [...acc.labels, ...operands[i]!.labels.filter((l) => !acc.labels.includes(l))];
    const out = i === operands.length - 1 ? r.output : both.filter((l) => later.has(l));
    acc = contract(r, acc, operands[i]!, out);
  }
  // int32 operands compute in float32, as matmul does.
  return isFloat(acc.x.dtype) ? acc.x : cast(acc.x, "float32");
}

interface EinsumAttrs {
  readonly equation: string;
}

/** Letters for every label of `r`: letters name themselves, axes under '...' get unused ones. */
function lettering(r: Resolved): (labels: readonly number[]) => string {
  const free = Array.from({ length: LETTERS }, (_, l) => l).filter((l) => !r.sizes.has(l));
  const names = new Map<number, string>();
  for (const label of r.sizes.keys()) {
    names.set(label, letterOf(label < LETTERS ? label : free.shift()!));
  }
  return (labels) => labels.map((l) => names.get(l)!).join("");
}

/** The equation with an explicit output, as written (for the batching rule to extend). */
function explicitTerms(subscripts: Subscripts): { terms: string[]; output: string } {
  return {
    terms: subscripts.terms.map(termText),
    output: termText(subscripts.output ?? implicitOutput(subscripts.terms)),
  };
}

const einsumOp = defineOp({
  name: "einsum",
  inputs: ["operands"],
  variadic: true,
  forward: (inputs, { equation }: EinsumAttrs) => {
    const xs: readonly Tensor[] = inputs;
    return forward(xs, resolveFor(equation, xs));
  },
  // d/dx_i of Σ dy·Π x_j is the einsum of dy and the other operands onto x_i's subscripts; an
  // index x_i alone carries (summed in the forward) gets dy's sum broadcast along it, and a
  // size-1 axis that broadcast is summed back by the final reshape of the effective operand.
  vjp: ({ dy, inputs, attrs: { equation }, needsGrad }) => {
    const xs: readonly Tensor[] = inputs;
    const r = resolveFor(equation, xs);
    const text = lettering(r);
    const effective = xs.map((x, i) => reshape(x, sizeOf(r, r.effective[i]!)));
    return xs.map((x, i) => {
      if (!needsGrad[i] || !isFloat(x.dtype)) return null;
      const others = r.effective.filter((_, j) => j !== i);
      const present = new Set([...r.output, ...others.flat()]);
      const own = r.effective[i]!;
      const target = own.filter((l) => present.has(l));
      const terms = [text(r.output), ...others.map(text)].join(",");
      const operands = [dy, ...effective.filter((_, j) => j !== i)];
      const g = einsumOp.apply(operands, { equation: `${terms}->${text(target)}` });
      const kept = own.map((l) => (present.has(l) ? r.sizes.get(l)! : 1));
      const spread = broadcastTo(reshape(g, kept), sizeOf(r, own));
      return shapesEqual(spread.shape, x.shape) ? spread : reshape(spread, x.shape);
    });
  },
  // A fresh letter names the batch axis: it leads every mapped operand's term and the output.
  batch: ({ inputs, axes, attrs: { equation } }): BatchResult<SingleOutput> => {
    const xs: readonly Tensor[] = inputs;
    const subscripts = parseSubscripts(equation);
    const used = new Set([...subscripts.terms.flat(), ...(subscripts.output ?? [])]);
    const fresh = Array.from({ length: LETTERS }, (_, l) => l).find((l) => !used.has(l));
    if (fresh === undefined) {
      throw argumentError("einsum", `vmap needs a letter that "${equation}" does not use`);
    }
    const { terms, output } = explicitTerms(subscripts);
    const letter = letterOf(fresh);
    const batched = xs.map((x, i) => (axes[i] === null ? x : batchFirst(x, axes[i]!)));
    const written = terms.map((term, i) => (axes[i] === null ? term : letter + term));
    const y = einsumOp.apply(batched, { equation: `${written.join(",")}->${letter}${output}` });
    return { y, axes: [0] };
  },
  samples: einsumSamples,
});

/** For each letter repeated in a term: the axes it names, first one first. */
function repeatedAxes(term: readonly Token[], rank: number): Map<number, number[]> {
  const spread = rank - term.filter((t) => t !== ELLIPSIS).length;
  const positions = new Map<number, number[]>();
  let axis = 0;
  for (const t of term) {
    if (t === ELLIPSIS) {
      axis += spread;
      continue;
    }
    positions.set(t, [...(positions.get(t) ?? []), axis++]);
  }
  return new Map([...positions].filter(([, list]) => list.length > 1));
}

/** x's diagonal over `axes` (all of one size), kept at the first of them. */
function diagonal(x: Tensor, axes: readonly number[], letter: string, i: number): Tensor {
  const n = x.shape[axes[0]!]!;
  for (const axis of axes) {
    if (x.shape[axis] !== n) {
      throw shapeError(
        "einsum",
        `index '${letter}' names axes of sizes ${n} and ${x.shape[axis]} in operand ${i} (shape ` +
          `${showShape(x.shape)}); a repeated index takes a diagonal of equal sizes`,
      );
    }
  }
  // The identity on each pair (first, other) of axes masks everything off the diagonal.
  let masked = x;
  for (const axis of axes.slice(1)) {
    const shape = x.shape.map((_, k) => (k === axes[0] || k === axis ? n : 1));
    masked = mul(masked, reshape(eye(n, n, x.dtype), shape));
  }
  return sum(masked, { axis: axes.slice(1) });
}

/**
 * Einstein summation, as NumPy and PyTorch: `einsum("bhqd,bhkd->bhqk", q, k)`. Subscripts are
 * letters (a–z, A–Z) and one '...' per term for broadcast axes; without '->' the output is '...'
 * then the letters used once, sorted (capitals first). A letter repeated in a term takes that
 * diagonal ("ii->" is the trace). Indices absent from the output are summed; three or more
 * operands contract left to right. int32 computes in float32. Gradient: for each operand, the
 * einsum of dy and the other operands with its subscripts as output.
 */
export function einsum(equation: string, ...operands: TensorLike[]): Tensor {
  const subscripts = parseSubscripts(equation);
  const diagonals = subscripts.terms.map((term, i) => {
    const x = operands[i];
    const letters = term.filter((t) => t !== ELLIPSIS).length;
    // A term that does not fit its operand is left for the op to report.
    if (!(x instanceof Tensor) || x.ndim < letters) return new Map<number, number[]>();
    if (!term.includes(ELLIPSIS) && x.ndim !== letters) return new Map<number, number[]>();
    return repeatedAxes(term, x.ndim);
  });
  if (diagonals.every((d) => d.size === 0)) return einsumOp.apply(operands, { equation });
  const xs = operands.map((x, i) => {
    let y = x as Tensor;
    // Later axes first, so that removing one leaves the others' positions alone.
    const found = [...(diagonals[i] ?? new Map<number, number[]>())].sort(
      ([, a], [, b]) => b[0]! - a[0]!,
    );
    for (const [label, axes] of found) y = diagonal(y, axes, letterOf(label), i);
    return diagonals[i]?.size ? y : x;
  });
  // Each repeated letter is kept once; the output is made explicit, as the repeats counted.
  const terms = subscripts.terms.map((term) =>
    termText(term.filter((t, k) => t === ELLIPSIS || term.indexOf(t) === k)),
  );
  const output = termText(subscripts.output ?? implicitOutput(subscripts.terms));
  return einsumOp.apply(xs, { equation: `${terms.join(",")}->${output}` });
}

/**
 * Equations over a few letters (one a capital, for the implicit order) of sizes 1–3: one to three
 * operands of rank ≤ 3, some with a '...' whose axes broadcast (size 1 or missing), and an
 * explicit output (any arrangement of the letters used, with or without '...') or none.
 */
function einsumSamples(kit: SampleKit) {
  const { fc } = kit;
  const letters = [0, 1, 2, 3, 26, 27, 28].map(letterOf);
  const term = fc.record({
    letters: fc.shuffledSubarray(letters, { maxLength: 3 }),
    ellipsis: fc.boolean(),
    at: fc.nat({ max: 3 }),
    drop: fc.nat({ max: 2 }),
    ones: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
  });
  return fc
    .record({
      sizes: fc.array(fc.integer({ min: 1, max: 3 }), {
        minLength: letters.length,
        maxLength: letters.length,
      }),
      spread: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 2 }),
      terms: fc.array(term, { minLength: 1, maxLength: 3 }),
      implicit: fc.boolean(),
      keepEllipsis: fc.boolean(),
      outputAt: fc.nat({ max: 3 }),
    })
    .chain(({ sizes, spread, terms, implicit, keepEllipsis, outputAt }) => {
      const sizeOfLetter = new Map(letters.map((l, k) => [l, sizes[k]!]));
      const written = terms.map((t) => {
        const own = spread
          .slice(Math.min(t.drop, spread.length))
          .map((d, k) => (t.ones[k] ? 1 : d));
        const at = Math.min(t.at, t.letters.length);
        const shape = t.letters.map((l) => sizeOfLetter.get(l)!);
        if (!t.ellipsis) return { text: t.letters.join(""), shape };
        return {
          text: [...t.letters.slice(0, at), ELLIPSIS, ...t.letters.slice(at)].join(""),
          shape: [...shape.slice(0, at), ...own, ...shape.slice(at)],
        };
      });
      const used = letters.filter((l) => terms.some((t) => t.letters.includes(l)));
      const anyEllipsis = terms.some((t) => t.ellipsis);
      const outputs = implicit ? fc.constant(undefined) : fc.shuffledSubarray(used);
      return fc
        .tuple(outputs, fc.tuple(...written.map((w) => kit.tensor(w.shape))))
        .map(([out, inputs]) => {
          const lhs = written.map((w) => w.text).join(",");
          if (out === undefined) return { inputs, attrs: { equation: lhs } };
          const at = Math.min(outputAt, out.length);
          const ellipsis = anyEllipsis && keepEllipsis ? [ELLIPSIS] : [];
          const rhs = [...out.slice(0, at), ...ellipsis, ...out.slice(at)].join("");
          return { inputs, attrs: { equation: `${lhs}->${rhs}` } };
        });
    });
}
