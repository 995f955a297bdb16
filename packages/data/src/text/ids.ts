import { Tensor, dtypeError, show } from "@tapegrad/autodiff";
import { argumentError, shapeError, showShape } from "../errors.js";

/**
 * @internal The values of a token id sequence given as an array, a typed array or a 1-D int32
 * tensor; `fn` and `name` name the caller and the argument in messages. Values are not checked.
 */
export function idValues(fn: string, name: string, ids: unknown): ArrayLike<number> {
  if (ids instanceof Tensor) {
    if (ids.dtype !== "int32") {
      throw dtypeError(fn, `${name} must hold int32 token ids, got ${ids.dtype}`);
    }
    if (ids.ndim !== 1) {
      throw shapeError(fn, `${name} must be 1-D, got a tensor of shape ${showShape(ids.shape)}`);
    }
    return ids.data;
  }
  if (Array.isArray(ids) || (ArrayBuffer.isView(ids) && !(ids instanceof DataView))) {
    return ids as ArrayLike<number>;
  }
  throw argumentError(
    fn,
    `${name} must be an array, an Int32Array or a 1-D int32 tensor, got ${show(ids)}`,
  );
}
