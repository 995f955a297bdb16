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
 * with each operand's starting offset and per-element step along the row. Axes that every
 * operand walks as one (size 1, or strides that continue the next axis's) are merged first, so
 * rows are as long as the layouts allow: [64, 6, 14, 14] plus a per-sample [64, 1, 1, 1] walks 64
 * rows of 1176, not 5376 rows of 14. With `merge` false, rows are the result's last axis.
 */
export function forEachRow(
  shapes: readonly (readonly number[])[],
  outShape: readonly number[],
  visit: (offsets: number[], outOffset: number, n: number, steps: number[]) => void,
  merge = true,
): void {
  if (outShape.length === 0) {
    visit(
      shapes.map(() => 0),
      0,
      1,
      shapes.map(() => 0),
    );
    return;
  }
  const all = shapes.map((s) => broadcastStrides(s, outShape));
  const { sizes, strides } = merge
    ? mergedAxes(all, outShape)
    : { sizes: [...outShape], strides: all.map((s) => [...s]) };
  const rank = sizes.length;
  const n = sizes[rank - 1]!;
  const steps = strides.map((s) => s[rank - 1]!);
  let rows = 1;
  for (let i = 0; i < rank - 1; i++) rows *= sizes[i]!;
  if (n === 0 || rows === 0) return;
  const index = new Array<number>(rank - 1).fill(0);
  const offsets = shapes.map(() => 0);
  for (let row = 0; row < rows; row++) {
    visit(offsets, row * n, n, steps);
    for (let axis = rank - 2; axis >= 0; axis--) {
      index[axis]!++;
      for (let k = 0; k < offsets.length; k++) offsets[k]! += strides[k]![axis]!;
      if (index[axis]! < sizes[axis]!) break;
      for (let k = 0; k < offsets.length; k++) offsets[k]! -= strides[k]![axis]! * sizes[axis]!;
      index[axis] = 0;
    }
  }
}

/**
 * The result's axes with size-1 axes dropped and each axis merged into the one after it where
 * every operand's stride along it is that axis's stride times its size (one walk covers both).
 */
function mergedAxes(
  strides: readonly (readonly number[])[],
  outShape: readonly number[],
): { sizes: number[]; strides: number[][] } {
  const last = outShape.length - 1;
  const sizes = [outShape[last]!];
  const merged = strides.map((s) => [s[last]!]);
  for (let axis = last - 1; axis >= 0; axis--) {
    const size = outShape[axis]!;
    if (size === 1) continue;
    const inner = sizes[0]!;
    if (strides.every((s, k) => s[axis] === merged[k]![0]! * inner)) {
      sizes[0] = inner * size;
    } else {
      sizes.unshift(size);
      strides.forEach((s, k) => merged[k]!.unshift(s[axis]!));
    }
  }
  return { sizes, strides: merged };
}
