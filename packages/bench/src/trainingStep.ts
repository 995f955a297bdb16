import { jit, prng, tensor, valueAndGrad, type Tensor } from "@tapegrad/autodiff";
import { crossEntropy, optim } from "@tapegrad/nn";
import { makeModel, type ModelName } from "@tapegrad/train";

/** The parameters, batch-norm state and Adam state a training step carries from one to the next. */
interface Training {
  readonly params: unknown;
  readonly state: unknown;
  readonly optState: optim.AdamState;
}

/**
 * One training step of one of `pnpm train`'s models, holding its own parameters (from seed 0):
 * forward in training mode, mean cross-entropy, gradients, and Adam's update with `lr` (a number
 * or a schedule); with `jitted`, traced once by jit with the old parameters and state donated, as
 * `pnpm train` runs it. Each call takes a batch and returns its loss (read it to finish the step).
 */
export function trainingStep(
  name: ModelName,
  { lr, jitted }: { readonly lr: optim.LearningRate; readonly jitted: boolean },
): (x: Tensor, y: Tensor) => Tensor {
  const model = makeModel(name);
  const adam = optim.adam({ lr });
  const lossGrad = valueAndGrad(
    (params: unknown, state: unknown, x: Tensor, y: Tensor) => {
      const [logits, next] = model.applyWithState(params, state, x, { training: true });
      return [crossEntropy(logits, y), next] as [Tensor, unknown];
    },
    { hasAux: true },
  );
  const update = (t: Training, x: Tensor, y: Tensor) => {
    const [[loss, state], grads] = lossGrad(t.params, t.state, x, y);
    const [params, optState] = adam.update(grads, t.optState, t.params);
    return { loss, next: { params, state, optState } };
  };
  const step = jitted ? jit(update, { donateArgnums: [0] }) : update;
  const init = model.init(prng(0));
  let current: Training = {
    params: init.params,
    state: init.state,
    optState: { ...adam.init(init.params), step: tensor(0, { dtype: "int32" }) },
  };
  return (x, y) => {
    const { loss, next } = step(current, x, y);
    current = next;
    return loss;
  };
}
