/** Index arithmetic shared by kernels that walk broadcast or reduced operands. */

/**
 * Strides of `shape` seen from a broadcast result of rank `rank`: 0 along every axis the
 * operand is missing or has size 1, so one index walks both.
 */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = rank - shape.length + i;
    strides[axis] = shape[i] === 1 && outShape[axis] !== 1 ? 0 : stride;
    stride *= shape[i]!;
  }
  return strides;
}

/**
 * Calls `visit(offsets, outOffset, n, steps)` once per innermost row of the broadcast result,
 * with each operand's starting offset and per-element step along the last axis.
 */
export function forEachRow(
  shapes: readonly (readonly number[])[],
  outShape: readonly number[],
  visit: (offsets: number[], outOffset: number, n: number, steps: number[]) => void,
): void {
  const rank = outShape.length;
  if (rank === 0) {
    visit(
      shapes.map(() => 0),
      0,
      1,
      shapes.map(() => 0),
    );
    return;
  }
  const strides = shapes.map((s) => broadcastStrides(s, outShape));
  const n = outShape[rank - 1]!;
  const steps = strides.map((s) => s[rank - 1]!);
  let rows = 1;
  for (let i = 0; i < rank - 1; i++) rows *= outShape[i]!;
  if (n === 0 || rows === 0) return;
  const index = new Array<number>(rank - 1).fill(0);
  const offsets = shapes.map(() => 0);
  for (let row = 0; row < rows; row++) {
    visit(offsets, row * n, n, steps);
    for (let axis = rank - 2; axis >= 0; axis--) {
      index[axis]!++;
      for (let k = 0; k < offsets.length; k++) offsets[k]! += strides[k]![axis]!;
      if (index[axis]! < outShape[axis]!) break;
      for (let k = 0; k < offsets.length; k++) offsets[k]! -= strides[k]![axis]! * outShape[axis]!;
      index[axis] = 0;
    }
  }
}
