import type { SampleArbitrary } from "../../sampleTypes.js";
import type { SampleKit } from "../../sampling.js";
import { Tensor } from "../../tensor.js";
import type { AttentionAttrs } from "./layout.js";

// Sample inputs of the attention ops for the registry-wide suites: small heads (up to [2, 2]
// leading axes, 1–4 queries and keys, 1–3 features), causal or not, default or given scale,
// dropout now and then; masks of either kind, broadcast along some axes.

/** One generated attention call. */
export interface AttentionCase {
  readonly q: Tensor;
  readonly k: Tensor;
  readonly v: Tensor;
  /** Only when the case is for the masked ops. */
  readonly mask?: Tensor;
  readonly attrs: AttentionAttrs;
}

/**
 * An int32 mask that lets every query attend to key 0, so that no row is masked throughout
 * (such a row is NaN, as in PyTorch) whatever the other entries and causality.
 */
function attendingKeyZero(mask: Tensor): Tensor {
  const data = Int32Array.from(mask.buffer);
  const lk = mask.shape[mask.ndim - 1]!;
  for (let t = 0; t < data.length; t += lk) data[t] = 1;
  return new Tensor(data, mask.shape);
}

/** Attention inputs, with a mask (int32 or float, broadcast along some axes) when `masked`. */
export function attentionCases(kit: SampleKit, masked: boolean): SampleArbitrary<AttentionCase> {
  const { fc } = kit;
  const size = (max: number) => fc.integer({ min: 1, max });
  const word = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  const dropout = fc.record({
    rate: fc.double({ min: 0.1, max: 0.5, noNaN: true }),
    words: fc.tuple(word, word),
  });
  return fc
    .record({
      lead: kit.shape({ maxRank: 2, maxDim: 2 }),
      lq: size(4),
      lk: size(4),
      e: size(3),
      ev: size(3),
      causal: fc.boolean(),
      scale: fc.oneof(fc.constant(undefined), fc.double({ min: 0.25, max: 1.5, noNaN: true })),
      dropout: fc.oneof(
        { weight: 3, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: dropout },
      ),
      additive: fc.boolean(),
      // Which axes of the scores' shape the mask has as 1, and how many leading ones it lacks.
      ones: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      lacking: fc.integer({ min: 0, max: 2 }),
    })
    .chain((c) => {
      const scores = [...c.lead, c.lq, c.lk];
      const maskShape = scores
        .map((d, a) => (c.ones[a] ? 1 : d))
        .slice(Math.min(c.lacking, c.lead.length));
      const mask = c.additive
        ? kit.tensor(maskShape, { min: -1, max: 1 })
        : kit.tensor(maskShape, { dtype: "int32", min: 0, max: 1 }).map(attendingKeyZero);
      const attrs: AttentionAttrs = {
        causal: c.causal,
        ...(c.scale === undefined ? {} : { scale: c.scale }),
        ...(c.dropout === undefined
          ? {}
          : {
              dropout: {
                rate: c.dropout.rate,
                key: new Tensor(Int32Array.from(c.dropout.words), [2]),
              },
            }),
      };
      return fc
        .tuple(
          kit.tensor([...c.lead, c.lq, c.e]),
          kit.tensor([...c.lead, c.lk, c.e]),
          kit.tensor([...c.lead, c.lk, c.ev]),
          masked ? mask : fc.constant(undefined),
        )
        .map(([q, k, v, m]): AttentionCase => ({
          q,
          k,
          v,
          ...(m === undefined ? {} : { mask: m }),
          attrs,
        }));
    });
}
