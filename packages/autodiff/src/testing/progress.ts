/** How far a long check has come, as `onProgress` receives it. */
export interface CheckProgress {
  /** The check's name (the `name` option). */
  readonly name: string;
  /** Partial derivatives compared so far. */
  readonly done: number;
  /** Partial derivatives to compare in all. */
  readonly total: number;
  /** Milliseconds since the element-by-element comparison began. */
  readonly elapsedMs: number;
}

/** How often a check run from a terminal prints a progress line. */
const TERMINAL_INTERVAL_MS = 3000;

/**
 * A function to call after each compared element. It calls `onProgress` every time when given;
 * otherwise, when stderr is a terminal, it prints a line every few seconds (checks of a whole
 * model can take minutes), and else does nothing.
 */
export function progressReporter(
  name: string,
  total: number,
  onProgress: ((progress: CheckProgress) => void) | undefined,
): (done: number) => void {
  const start = performance.now();
  if (onProgress !== undefined) {
    return (done) => onProgress({ name, done, total, elapsedMs: performance.now() - start });
  }
  const stderr = terminalStderr();
  if (stderr === undefined) return () => {};
  let next = start + TERMINAL_INTERVAL_MS;
  return (done) => {
    const now = performance.now();
    if (now < next || done === total) return;
    next = now + TERMINAL_INTERVAL_MS;
    const elapsed = (now - start) / 1000;
    const left = (elapsed * (total - done)) / done;
    stderr.write(
      `${name}: ${done.toLocaleString("en")} of ${total.toLocaleString("en")} partial ` +
        `derivatives checked, ${elapsed.toFixed(0)} s elapsed, about ${left.toFixed(0)} s left\n`,
    );
  };
}

interface Writable {
  write(text: string): unknown;
}

/** Node's stderr when it is a terminal; undefined in browsers, pipes and test runners' workers. */
function terminalStderr(): Writable | undefined {
  const stderr = (globalThis as { process?: { stderr?: Writable & { isTTY?: boolean } } }).process
    ?.stderr;
  return stderr?.isTTY === true ? stderr : undefined;
}
