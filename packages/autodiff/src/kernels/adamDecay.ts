// How weight decay enters an Adam step, as the numbers both loops switch on: the js kernel
// (optim.ts) and the wasm one (assembly/optim.ts, which imports this file). asc compiles this
// file as AssemblyScript too, so it holds integer constants only.

/** No weight decay. */
export const DECAY_NONE = 0;
/** AdamW: the weights decay directly, w·(1 − rate·weightDecay). */
export const DECAY_DECOUPLED = 1;
/** Adam's L2 penalty: weightDecay·w is added to the gradient. */
export const DECAY_COUPLED = 2;
