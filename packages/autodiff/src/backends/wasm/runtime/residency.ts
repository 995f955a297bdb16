import type { TypedArray } from "../../../dtype.js";
import { wasmTuning } from "../tuning.js";

// Kernel outputs kept in wasm memory after their copy out. A CNN step feeds most outputs
// straight to the next kernel (conv → pool → conv, and back), which would copy the same bytes
// in again: a LeNet-5 step copied about 6 MB that way. Outputs are therefore written into a
// ring of wasm memory, and the ring remembers which JS array each one was copied out to; a later
// call that reads that array (or a view of it) reads the ring instead. Nothing has to be freed:
// new outputs overwrite old ones, and an entry is used only while its bytes are intact. Tensor
// buffers never change after their op writes them (`Tensor.data` hands out copies), except
// where jit's memory plan hands one out again, which it announces (onBufferReuse).

/** Bytes of wasm memory reserved for the ring (virtual until written). */
export const RING_BYTES = 32 << 20;

/**
 * The ring starts this small and doubles, up to its reserve, each time a call finds one of its
 * arrays written over: a workload whose outputs are read soon after they are made keeps reusing
 * a few warm megabytes, instead of touching fresh pages (a page fault each) on every call of a
 * first 32 MiB lap (docs/performance.md#wasm-thresholds-and-kernel-choices).
 */
const FIRST_RING_BYTES = 4 << 20;

/** Where one output lives in the ring, and which JS array bytes it holds. */
interface Resident {
  readonly at: number;
  readonly bytes: number;
  /** The byte offset in its ArrayBuffer of the array it was copied out to. */
  readonly offset: number;
  /** The ring's lap when it was written. */
  readonly lap: number;
}

const ALIGN = 64;

export class ResidentRing {
  private top: number;
  private lap = 0;
  /** The part of the reserve in use now (see FIRST_RING_BYTES). */
  private size = FIRST_RING_BYTES;
  private readonly residents = new WeakMap<ArrayBufferLike, Resident>();
  /** Ring blocks the current call reads or writes: no new output may land on them. */
  private readonly busy: { at: number; end: number }[] = [];
  /** The current call's outputs in the ring: address → lap. */
  private readonly slots = new Map<number, number>();

  constructor(private readonly start: number) {
    this.top = start;
  }

  /** Starts a kernel call: nothing is in use yet. */
  beginCall(): void {
    this.busy.length = 0;
    this.slots.clear();
  }

  /**
   * A ring block of `bytes` for an output, or −1 when it belongs in the arena instead: larger
   * than a quarter of the ring, or landing on a block this call already uses.
   */
  allocate(bytes: number): number {
    const size = Math.min(this.size, wasmTuning.maxRingBytes, RING_BYTES);
    const span = Math.ceil(bytes / ALIGN) * ALIGN;
    if (span > size / 4) return -1;
    let at = this.top;
    let lap = this.lap;
    if (at + span > this.start + size) {
      at = this.start;
      lap++;
    }
    for (const block of this.busy) if (at < block.end && block.at < at + span) return -1;
    this.top = at + span;
    this.lap = lap;
    this.busy.push({ at, end: at + span });
    this.slots.set(at, lap);
    return at;
  }

  /** After `target` got a copy of the block at `at`: remember it, if the block is an output. */
  remember(at: number, target: TypedArray): void {
    const lap = this.slots.get(at);
    if (lap === undefined) return;
    const entry = { at, bytes: target.byteLength, offset: target.byteOffset, lap };
    this.residents.set(target.buffer, entry);
  }

  /** `memory` is about to hold new contents: its copy in the ring no longer stands for it. */
  forget(memory: ArrayBufferLike): void {
    this.residents.delete(memory);
  }

  /** Where `data`'s bytes are intact in the ring, or −1; a hit is protected for this call. */
  find(data: TypedArray): number {
    const entry = this.residents.get(data.buffer);
    if (entry === undefined) return -1;
    if (!this.intact(entry)) {
      // Written over before it was read again: the ring is too small for this workload.
      this.size = Math.min(2 * this.size, RING_BYTES);
      return -1;
    }
    const from = data.byteOffset - entry.offset;
    if (from < 0 || from + data.byteLength > entry.bytes) return -1;
    this.busy.push({ at: entry.at, end: entry.at + entry.bytes });
    return entry.at + from;
  }

  /**
   * Not yet written over: from this lap, or from the last one beyond where this lap has
   * reached.
   */
  private intact(entry: Resident): boolean {
    return entry.lap === this.lap || (entry.lap === this.lap - 1 && this.top <= entry.at);
  }
}
