/** One epoch's figures, as written to metrics.jsonl. */
export interface EpochMetrics {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly testLoss: number;
  readonly testAccuracy: number;
  readonly imagesPerSecond: number;
  readonly seconds: number;
}

const WIDTH = 720;
const HEIGHT = 300;
const MARGIN = { left: 56, right: 20, top: 34, bottom: 40 };

interface Series {
  readonly label: string;
  readonly color: string;
  readonly values: readonly number[];
}

/**
 * Two side-by-side line charts against epoch — losses (train and test) and test accuracy — as a
 * standalone SVG document. SVG rather than PNG: crisp at any size and readable as text.
 */
export function curvesSvg(history: readonly EpochMetrics[]): string {
  const epochs = history.map((m) => m.epoch);
  const losses: Series[] = [
    { label: "train loss", color: "#1f77b4", values: history.map((m) => m.trainLoss) },
    { label: "test loss", color: "#ff7f0e", values: history.map((m) => m.testLoss) },
  ];
  const accuracy: Series[] = [
    {
      label: "test accuracy (%)",
      color: "#2ca02c",
      values: history.map((m) => 100 * m.testAccuracy),
    },
  ];
  const lossStep = niceStep(Math.max(1e-9, ...losses.flatMap((s) => s.values)) / 4);
  const accStep = niceStep((100 - Math.min(100, ...accuracy[0]!.values)) / 4);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH * 2}" height="${HEIGHT}" ` +
      `viewBox="0 0 ${WIDTH * 2} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    chart(0, "Loss", epochs, losses, 0, 4 * lossStep),
    chart(WIDTH, "Test accuracy", epochs, accuracy, Math.max(0, 100 - 4 * accStep), 100),
    `</svg>`,
  ].join("\n");
}

function chart(
  offsetX: number,
  title: string,
  epochs: readonly number[],
  series: readonly Series[],
  yMin: number,
  yMax: number,
): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xMin = Math.min(...epochs, 1);
  const xMax = Math.max(...epochs, xMin + 1);
  const px = (e: number) => offsetX + MARGIN.left + ((e - xMin) / (xMax - xMin)) * plotW;
  const py = (v: number) => MARGIN.top + (1 - (v - yMin) / (yMax - yMin || 1)) * plotH;
  const parts: string[] = [
    `<text x="${offsetX + WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>`,
    `<rect x="${offsetX + MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" ` +
      `fill="none" stroke="#888"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = yMin + ((yMax - yMin) * i) / 4;
    const y = py(v).toFixed(1);
    parts.push(
      `<line x1="${offsetX + MARGIN.left}" x2="${offsetX + MARGIN.left + plotW}" y1="${y}" ` +
        `y2="${y}" stroke="#eee"/>`,
      `<text x="${offsetX + MARGIN.left - 6}" y="${y}" text-anchor="end" ` +
        `dominant-baseline="middle">${formatTick(v)}</text>`,
    );
  }
  for (const e of epochs) {
    parts.push(
      `<text x="${px(e).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 16}" ` +
        `text-anchor="middle">${e}</text>`,
    );
  }
  parts.push(
    `<text x="${offsetX + MARGIN.left + plotW / 2}" y="${HEIGHT - 6}" ` +
      `text-anchor="middle">epoch</text>`,
  );
  series.forEach((s, k) => {
    const points = s.values.map((v, i) => `${px(epochs[i]!).toFixed(1)},${py(v).toFixed(1)}`);
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points.join(" ")}"/>`,
      ...points.map((p) => {
        const [x, y] = p.split(",");
        return `<circle cx="${x}" cy="${y}" r="3" fill="${s.color}"/>`;
      }),
      `<text x="${offsetX + MARGIN.left + plotW - 10}" y="${MARGIN.top + 16 + 16 * k}" ` +
        `text-anchor="end" fill="${s.color}">${s.label}</text>`,
    );
  });
  return parts.join("\n");
}

/** The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least `raw`: round ticks. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-12)));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((step) => step >= raw)!;
}

/** Enough digits to tell ticks apart, without trailing zeros (85, 88.75, 0.15). */
function formatTick(v: number): string {
  return String(Number(v.toFixed(Math.abs(v) >= 10 ? 2 : 3)));
}
