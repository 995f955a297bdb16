// The page: loads the data prepared at build time, then trains in short slices of work between
// frames (setTimeout to yield to the event loop, requestAnimationFrame to draw), so the page stays
// responsive while it learns. Progress is mirrored on <body data-*> attributes and on
// window.__tapegrad for the end-to-end test.
import {
  getBackend,
  setBackend,
  setWasmThreads,
  slice,
  wasmThreads,
  type Tensor,
} from "@tapegrad/autodiff";
import { mnistFromIdx, normalize, readIdx } from "@tapegrad/data";
import {
  byId,
  context2d,
  document,
  location,
  requestAnimationFrame,
  type CanvasElement,
  type HtmlElement,
} from "./dom.js";
import { createTrainer, type Split, type Trainer } from "./trainer.js";

interface Manifest {
  readonly source: "fashion-mnist" | "synthetic";
  readonly classes: readonly string[];
  readonly train: { readonly images: string; readonly labels: string; readonly count: number };
  readonly test: { readonly images: string; readonly labels: string; readonly count: number };
}

/** What the end-to-end test (and a curious reader, in the console) sees as window.__tapegrad. */
interface Progress {
  status: "loading" | "training" | "evaluating" | "paused" | "done" | "error";
  dataset: string;
  backend: string;
  /** Whether the page is cross-origin isolated (it must be, for shared memory and threads). */
  isolated: boolean;
  /** Threads the wasm kernels use (1 without cross-origin isolation). */
  threads: number;
  /** Training speed, measured about once a second. */
  imagesPerSecond: number[];
  step: number;
  maxSteps: number;
  epoch: number;
  losses: number[];
  evaluations: { step: number; accuracy: number }[];
  error?: string;
}

const params = new URLSearchParams(location.search);
const intParam = (name: string, fallback: number) => {
  const value = Number(params.get(name));
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
/** Steps to train for (default 3 epochs of the 4,000 training images at batch size 32). */
const MAX_STEPS = intParam("steps", 375);
/** Evaluate the test accuracy every this many steps. */
const EVAL_EVERY = intParam("evalEvery", 50);
/** Test images evaluated per slice of work. */
const EVAL_SLICE = 100;
/** Milliseconds of training per slice before yielding to the browser. */
const SLICE_MS = 25;
const SAMPLES = 16;
/** Fashion-MNIST's training-set mean and standard deviation. */
const MEAN = 0.286;
const STD = 0.353;

const progress: Progress = {
  status: "loading",
  dataset: "",
  backend: "",
  isolated: Reflect.get(globalThis, "crossOriginIsolated") === true,
  threads: 1,
  imagesPerSecond: [],
  step: 0,
  maxSteps: MAX_STEPS,
  epoch: 0,
  losses: [],
  evaluations: [],
};
Reflect.set(globalThis, "__tapegrad", progress);

const $ = byId;

function setStatus(status: Progress["status"], text: string): void {
  progress.status = status;
  document.body.dataset["status"] = status;
  $("status").textContent = text;
}

async function fetchIdx(url: string) {
  const response = await fetch(url);
  if (!response.ok || response.body === null) {
    throw new Error(`could not load ${url}: ${response.status} ${response.statusText}`);
  }
  // The build stores gzip files as they are; the browser decompresses them here.
  const stream = response.body.pipeThrough(new DecompressionStream("gzip"));
  return readIdx(new Uint8Array(await new Response(stream).arrayBuffer()), url);
}

async function loadSplit(files: Manifest["train"]): Promise<Split & { raw: Tensor }> {
  const [images, labels] = await Promise.all([fetchIdx(files.images), fetchIdx(files.labels)]);
  const { images: raw, labels: y } = mnistFromIdx(images, labels, files);
  return { x: normalize([MEAN], [STD])(raw), y, raw };
}

// ---- drawing --------------------------------------------------------------------------------

function drawLossChart(): void {
  const canvas = $<CanvasElement>("loss-chart");
  const ctx = context2d(canvas);
  const { width, height } = canvas;
  const pad = { left: 40, right: 10, top: 10, bottom: 24 };
  ctx.clearRect(0, 0, width, height);
  const losses = progress.losses;
  const top = Math.max(2.5, ...losses.slice(0, 5));
  const x = (i: number) =>
    pad.left + (i / Math.max(1, progress.maxSteps - 1)) * (width - pad.left - pad.right);
  const y = (v: number) => pad.top + (1 - Math.min(v, top) / top) * (height - pad.top - pad.bottom);
  ctx.strokeStyle = "#d8dbe3";
  ctx.fillStyle = "#687085";
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  for (let v = 0; v <= top; v += 0.5) {
    ctx.beginPath();
    ctx.moveTo(pad.left, y(v));
    ctx.lineTo(width - pad.right, y(v));
    ctx.stroke();
    ctx.fillText(v.toFixed(1), 8, y(v) + 4);
  }
  ctx.fillText("step", width - 34, height - 6);
  ctx.fillText("0", pad.left, height - 6);
  ctx.fillText(String(progress.maxSteps), width - pad.right - 28, height - 20);
  if (losses.length === 0) return;
  ctx.strokeStyle = "#9ec5fe";
  ctx.beginPath();
  losses.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
  ctx.stroke();
  ctx.strokeStyle = "#0b5cd5";
  ctx.lineWidth = 2.5;
  ctx.beginPath();
  let average = losses[0]!;
  losses.forEach((v, i) => {
    average = i === 0 ? v : 0.9 * average + 0.1 * v;
    if (i === 0) ctx.moveTo(x(i), y(average));
    else ctx.lineTo(x(i), y(average));
  });
  ctx.stroke();
}

function drawAccuracyChart(): void {
  const canvas = $<CanvasElement>("accuracy-chart");
  const ctx = context2d(canvas);
  const { width, height } = canvas;
  const pad = { left: 40, right: 10, top: 8, bottom: 8 };
  ctx.clearRect(0, 0, width, height);
  const x = (step: number) =>
    pad.left + (step / Math.max(1, progress.maxSteps)) * (width - pad.left - pad.right);
  const y = (a: number) => pad.top + (1 - a) * (height - pad.top - pad.bottom);
  ctx.strokeStyle = "#d8dbe3";
  ctx.fillStyle = "#687085";
  ctx.font = "11px system-ui, sans-serif";
  for (const a of [0, 0.5, 1]) {
    ctx.beginPath();
    ctx.moveTo(pad.left, y(a));
    ctx.lineTo(width - pad.right, y(a));
    ctx.stroke();
    ctx.fillText(`${a * 100}%`, 4, y(a) + 4);
  }
  ctx.setLineDash([4, 4]);
  ctx.strokeStyle = "#cf222e";
  ctx.beginPath();
  ctx.moveTo(pad.left, y(0.1));
  ctx.lineTo(width - pad.right, y(0.1));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = "#cf222e";
  ctx.fillText("chance", width - 52, y(0.1) - 4);
  ctx.strokeStyle = "#1a7f37";
  ctx.fillStyle = "#1a7f37";
  ctx.lineWidth = 2;
  ctx.beginPath();
  progress.evaluations.forEach(({ step, accuracy }, i) =>
    i === 0 ? ctx.moveTo(x(step), y(accuracy)) : ctx.lineTo(x(step), y(accuracy)),
  );
  ctx.stroke();
  for (const { step, accuracy } of progress.evaluations) {
    ctx.beginPath();
    ctx.arc(x(step), y(accuracy), 3, 0, 2 * Math.PI);
    ctx.fill();
  }
}

/** One cell per sample image: the picture (×3), the guess, the truth. */
function buildPredictionCells(images: Tensor, labels: Tensor, classes: readonly string[]) {
  const container = $("predictions");
  container.replaceChildren();
  const cells: { guess: HtmlElement }[] = [];
  const [, , h, w] = images.shape as [number, number, number, number];
  const pixels = images.data;
  const truths = labels.data;
  for (let n = 0; n < images.shape[0]!; n++) {
    const cell = document.createElement("div");
    cell.className = "prediction";
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    const ctx = context2d(canvas);
    const picture = ctx.createImageData(w, h);
    for (let i = 0; i < h * w; i++) {
      const v = Math.round(255 * (1 - pixels[n * h * w + i]!));
      picture.data.set([v, v, v, 255], 4 * i);
    }
    ctx.putImageData(picture, 0, 0);
    const guess = document.createElement("div");
    guess.className = "guess";
    guess.textContent = "…";
    const truth = document.createElement("div");
    truth.className = "truth";
    truth.textContent = classes[truths[n]!] ?? String(truths[n]);
    cell.append(canvas, guess, truth);
    container.append(cell);
    cells.push({ guess });
  }
  return cells;
}

// ---- the training loop ----------------------------------------------------------------------

async function main(): Promise<void> {
  const backend = params.get("backend");
  if (backend) setBackend(backend);
  if (params.has("threads")) setWasmThreads(intParam("threads", 1));
  const manifest = (await (await fetch("data/manifest.json")).json()) as Manifest;
  const [train, test] = await Promise.all([loadSplit(manifest.train), loadSplit(manifest.test)]);
  progress.dataset =
    manifest.source === "fashion-mnist"
      ? `Fashion-MNIST (${manifest.train.count} training, ${manifest.test.count} test images)`
      : `a synthetic dataset (${manifest.train.count} training, ${manifest.test.count} test images)`;
  $("dataset").textContent = manifest.source === "fashion-mnist" ? "Fashion-MNIST" : "synthetic";
  $("test-size").textContent = `(on ${manifest.test.count} held-out images)`;
  $("max-steps").textContent = String(MAX_STEPS);

  const sampleX = slice(test.x, [0], [SAMPLES]);
  const cells = buildPredictionCells(
    slice(test.raw, [0], [SAMPLES]),
    slice(test.y, [0], [SAMPLES]),
    manifest.classes,
  );

  let trainer: Trainer = createTrainer(train);
  progress.backend = getBackend();
  $("backend").textContent = progress.backend;
  let paused = false;
  let generation = 0; // bumped by Restart, so stale slices of work stop
  let drawQueued = false;
  let stepsAtLastSpeed = 0;
  let timeAtLastSpeed = performance.now();

  const draw = () => {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      $("step").textContent = String(progress.step);
      $("epoch").textContent = String(progress.epoch);
      document.body.dataset["step"] = String(progress.step);
      drawLossChart();
      drawAccuracyChart();
    });
  };

  const showPredictions = () => {
    const guesses = trainer.predict(sampleX);
    const truths = test.y.data;
    guesses.forEach((g, n) => {
      const right = g === truths[n];
      cells[n]!.guess.textContent = manifest.classes[g] ?? String(g);
      cells[n]!.guess.className = `guess ${right ? "right" : "wrong"}`;
    });
  };

  const evaluate = (mine: number, then: () => void) => {
    setStatus("evaluating", "evaluating on the test images…");
    let correct = 0;
    let start = 0;
    const next = () => {
      if (mine !== generation) return;
      const end = Math.min(test.y.size, start + EVAL_SLICE);
      correct += trainer.correct(test, start, end);
      start = end;
      if (start < test.y.size) {
        setTimeout(next, 0);
        return;
      }
      const accuracy = correct / test.y.size;
      progress.evaluations.push({ step: progress.step, accuracy });
      document.body.dataset["accuracy"] = accuracy.toFixed(4);
      $("accuracy").textContent = `${(100 * accuracy).toFixed(1)}%`;
      showPredictions();
      draw();
      then();
    };
    setTimeout(next, 0);
  };

  const trainSlice = (mine: number) => {
    if (mine !== generation || paused) return;
    setStatus("training", "training");
    const start = performance.now();
    while (performance.now() - start < SLICE_MS && progress.step < MAX_STEPS) {
      progress.losses.push(trainer.step());
      progress.step = trainer.steps;
      progress.epoch = trainer.epoch;
      if (progress.step % EVAL_EVERY === 0) break;
    }
    const now = performance.now();
    if (now - timeAtLastSpeed > 1000) {
      const perSecond =
        ((progress.step - stepsAtLastSpeed) * 32) / ((now - timeAtLastSpeed) / 1000);
      $("speed").textContent = `${Math.round(perSecond)} images/s`;
      progress.imagesPerSecond.push(perSecond);
      // The pool starts its workers on the first kernel calls: read the count once training runs.
      progress.threads = progress.backend === "wasm" ? wasmThreads() : 1;
      $("threads").textContent =
        `${progress.threads}${progress.isolated ? "" : " (not cross-origin isolated)"}`;
      stepsAtLastSpeed = progress.step;
      timeAtLastSpeed = now;
    }
    draw();
    const finished = progress.step >= MAX_STEPS;
    if (finished || progress.step % EVAL_EVERY === 0) {
      evaluate(mine, () => {
        if (finished) {
          setStatus("done", `done: ${MAX_STEPS} steps`);
          $("pause").disabled = true;
        } else {
          setTimeout(() => trainSlice(mine), 0);
        }
      });
    } else {
      setTimeout(() => trainSlice(mine), 0);
    }
  };

  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").textContent = paused ? "Resume" : "Pause";
    if (paused) setStatus("paused", "paused");
    else trainSlice(generation);
  });
  $("reset").addEventListener("click", () => {
    generation++;
    paused = false;
    $("pause").textContent = "Pause";
    $("pause").disabled = false;
    trainer = createTrainer(train, { seed: generation });
    Object.assign(progress, { step: 0, epoch: 0, losses: [], evaluations: [] });
    $("accuracy").textContent = "—";
    stepsAtLastSpeed = 0;
    timeAtLastSpeed = performance.now();
    draw();
    evaluate(generation, () => trainSlice(generation));
  });
  $("pause").disabled = false;
  $("reset").disabled = false;

  // Step 0: the untrained network's accuracy (about chance), then training.
  draw();
  evaluate(generation, () => trainSlice(generation));
}

main().catch((error: unknown) => {
  progress.error = error instanceof Error ? `${error.message}\n${error.stack}` : String(error);
  setStatus("error", `error: ${error instanceof Error ? error.message : String(error)}`);
  console.error(error);
});
