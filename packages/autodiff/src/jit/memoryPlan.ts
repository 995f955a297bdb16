import { plannedBuffer } from "../backends/backend.js";
import {
  announceReuse,
  dtypeOfArray,
  poisoned,
  type Allocator,
  type DType,
  type TypedArray,
} from "../dtype.js";

// A program's replays allocate the same buffers in the same order: the same ops, on the same
// shapes, run the same kernels. One replay is recorded; from it each allocation gets a slot, a
// buffer that later allocations share once every value in it is dead, so that later replays
// allocate nothing but their results.

/** One buffer a replay allocated: during which equation, and its type. */
interface Allocation {
  readonly equation: number;
  readonly dtype: DType;
  readonly size: number;
}

/** Records a replay's allocations, equation by equation (set `equation` before each). */
export class AllocationRecorder implements Allocator {
  equation = -1;
  readonly allocations: (Allocation & { readonly buffer: TypedArray })[] = [];

  allocate(dtype: DType, size: number, _zeroed: boolean, fresh: () => TypedArray): TypedArray {
    const buffer = fresh();
    this.allocations.push({ equation: this.equation, dtype, size, buffer });
    return buffer;
  }
}

/** What planning needs to know of a recorded replay besides its allocations. */
export interface Liveness {
  /** The last equation that read each buffer (by its memory). */
  readonly lastRead: ReadonlyMap<ArrayBufferLike, number>;
  /** The memory of the program's results: it belongs to the caller and is never shared. */
  readonly results: ReadonlySet<ArrayBufferLike>;
  /** Results that may be written over a donated input instead: the input's value, by memory. */
  readonly inPlace: ReadonlyMap<ArrayBufferLike, number>;
}

/**
 * Serves a replay's allocations from slots: allocation k of every replay gets slot k's buffer (or
 * a fresh one where the plan says so). If the allocations stop matching the recorded ones, the
 * rest are fresh, and `matched` says the plan must be recorded again.
 */
export class MemoryPlan implements Allocator {
  private readonly buffers: (TypedArray | undefined)[] = [];
  private next = 0;
  private diverged = false;
  private donors: ReadonlyMap<number, TypedArray> = new Map();

  constructor(
    private readonly expected: readonly Allocation[],
    /**
     * Each allocation's slot; for a result, −1 (a fresh buffer) or −2 − v (the buffer of the
     * donated input v, when the call donates it).
     */
    private readonly slotOf: readonly number[],
    /** How many bytes the slots hold between replays. */
    readonly bytes: number,
  ) {}

  /** Starts a replay whose donated inputs' buffers (by value) results may be written over. */
  begin(donors: ReadonlyMap<number, TypedArray>): void {
    this.next = 0;
    this.diverged = false;
    this.donors = donors;
  }

  /** Whether the replay just run allocated exactly what the plan expected. */
  get matched(): boolean {
    return !this.diverged && this.next === this.expected.length;
  }

  allocate(dtype: DType, size: number, zeroed: boolean, fresh: () => TypedArray): TypedArray {
    const k = this.next++;
    const want = this.expected[k];
    if (this.diverged || want === undefined || want.dtype !== dtype || want.size !== size) {
      this.diverged = true;
      return fresh();
    }
    const slot = this.slotOf[k]!;
    if (slot < -1) return this.donatedBuffer(-2 - slot, dtype, size, zeroed) ?? fresh();
    if (slot < 0) return fresh();
    const buffer = this.buffers[slot];
    if (buffer === undefined) {
      const planned = plannedBuffer(dtype, size);
      this.buffers[slot] =
        planned === undefined ? fresh() : zeroed ? planned.fill(0) : poisoned(planned);
      return this.buffers[slot]!;
    }
    announceReuse(buffer.buffer);
    return zeroed ? buffer.fill(0) : poisoned(buffer);
  }

  /**
   * The donated buffer of input `value`, if this call donates one of this type. Its contents are
   * the input's, which the op reads as it writes over them: never poisoned.
   */
  private donatedBuffer(value: number, dtype: DType, size: number, zeroed: boolean) {
    const buffer = this.donors.get(value);
    // Zeros asked for would wipe the input the op is about to read.
    if (
      zeroed ||
      buffer === undefined ||
      buffer.length !== size ||
      dtypeOfArray(buffer) !== dtype
    ) {
      return undefined;
    }
    announceReuse(buffer.buffer);
    return buffer;
  }
}

/**
 * The plan for a recorded replay: each allocation shares a slot of its dtype and size whose last
 * occupant was last read by an earlier equation; a buffer lives from the equation that made it
 * to the last one that read it (a temporary, to its own equation's end).
 */
export function planMemory(recorder: AllocationRecorder, liveness: Liveness): MemoryPlan {
  const free = new Map<string, { slot: number; busyUntil: number }[]>();
  const slotOf: number[] = [];
  let slots = 0;
  let bytes = 0;
  for (const { equation, dtype, size, buffer } of recorder.allocations) {
    if (liveness.results.has(buffer.buffer)) {
      const donor = liveness.inPlace.get(buffer.buffer);
      slotOf.push(donor === undefined ? -1 : -2 - donor);
      continue;
    }
    const end = Math.max(equation, liveness.lastRead.get(buffer.buffer) ?? equation);
    const key = `${dtype}:${size}`;
    let list = free.get(key);
    if (list === undefined) free.set(key, (list = []));
    let found = list.find((s) => s.busyUntil < equation);
    if (found === undefined) {
      found = { slot: slots++, busyUntil: end };
      list.push(found);
      bytes += buffer.byteLength;
    }
    found.busyUntil = end;
    slotOf.push(found.slot);
  }
  const expected = recorder.allocations.map(({ equation, dtype, size }) => ({
    equation,
    dtype,
    size,
  }));
  return new MemoryPlan(expected, slotOf, bytes);
}
