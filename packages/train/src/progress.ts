import cliProgress from "cli-progress";
import type { EpochMetrics } from "./curves.js";

/** Reports training progress: a live bar on a terminal, one plain line per epoch elsewhere. */
export interface Progress {
  startEpoch(epoch: number, totalBatches: number): void;
  batch(done: number, runningLoss: number, imagesPerSecond: number): void;
  endEpoch(metrics: EpochMetrics): void;
  stop(): void;
}

export function createProgress(
  epochs: number,
  stream: NodeJS.WriteStream = process.stdout,
): Progress {
  return stream.isTTY ? terminalProgress(epochs, stream) : plainProgress(epochs, stream);
}

export function formatEpoch(m: EpochMetrics, epochs: number): string {
  return (
    `epoch ${m.epoch}/${epochs}: train loss ${m.trainLoss.toFixed(4)}, ` +
    `test loss ${m.testLoss.toFixed(4)}, test accuracy ${(100 * m.testAccuracy).toFixed(2)}%, ` +
    `${Math.round(m.imagesPerSecond)} images/s, ${m.seconds.toFixed(1)} s`
  );
}

function terminalProgress(epochs: number, stream: NodeJS.WriteStream): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        "epoch {epoch} |{bar}| {percentage}% {value}/{total} batches · loss {loss} · " +
        "{rate} img/s · ETA {eta_formatted}",
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    startEpoch(epoch, total) {
      bar.start(total, 0, { epoch, loss: "-", rate: "-" });
    },
    batch(done, loss, rate) {
      bar.update(done, { loss: loss.toFixed(4), rate: Math.round(rate) });
    },
    endEpoch(metrics) {
      bar.stop();
      stream.write(`${formatEpoch(metrics, epochs)}\n`);
    },
    stop() {
      bar.stop();
    },
  };
}

function plainProgress(epochs: number, stream: NodeJS.WriteStream): Progress {
  return {
    startEpoch() {},
    batch() {},
    endEpoch(metrics) {
      stream.write(`${formatEpoch(metrics, epochs)}\n`);
    },
    stop() {},
  };
}
