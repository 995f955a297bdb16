// Character-level language models of English words: a bigram baseline, a small GPT and an LSTM,
// trained on Debian's word list and compared in nats per character on held-out words.
//
//   npx tsx examples/char-lm/src/main.ts [--model gpt|lstm|both] [--steps N] [--batch-size B]
//     [--lr X] [--seed N] [--temperature T] [--top-k K] [--words FILE]
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { argumentError, getBackend, randomKey, wasmThreads } from "@tapegrad/autodiff";
import { paramCount } from "@tapegrad/nn";
import { fitBigram } from "./bigram.js";
import {
  WORD_LIST,
  parseWords,
  predictedCharacters,
  splitWords,
  wordExamples,
  wordTokenizer,
} from "./corpus.js";
import { gpt, lstmModel, type CharModel } from "./models.js";
import { sampleWords } from "./sample.js";
import { evaluateNats, trainModel } from "./train.js";

/** The words of a word list file; a missing file is an error that says how to get one. */
export function readWords(path: string = WORD_LIST): string[] {
  if (!existsSync(path)) {
    throw argumentError(
      "readWords",
      `no word list at ${path}; install Debian's wamerican (apt-get install wamerican) or ` +
        `pass --words FILE (one word a line)`,
    );
  }
  const words = parseWords(readFileSync(path, "utf8"));
  if (words.length < 2) {
    throw argumentError("readWords", `${path} has ${words.length} lowercase a–z words; need ≥ 2`);
  }
  return words;
}

/** "+0.120" or "-0.494": a difference with its sign. */
function signed(value: number): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(3)}`;
}

function describeBackend(): string {
  const backend = getBackend();
  return backend === "wasm" ? `wasm, ${wasmThreads()} thread(s)` : backend;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: "string", default: "both" },
      steps: { type: "string", default: "1500" },
      "batch-size": { type: "string", default: "64" },
      lr: { type: "string", default: "0.003" },
      seed: { type: "string", default: "0" },
      temperature: { type: "string", default: "0.8" },
      "top-k": { type: "string", default: "10" },
      words: { type: "string" },
    },
  });
  const kinds = values.model === "both" ? ["lstm", "gpt"] : [values.model];
  if (!kinds.every((k) => k === "gpt" || k === "lstm")) {
    throw argumentError("char-lm", `--model must be gpt, lstm or both, got ${values.model}`);
  }
  const steps = Number(values.steps);
  const batchSize = Number(values["batch-size"]);
  const lr = Number(values.lr);
  const seed = Number(values.seed);
  const temperature = Number(values.temperature);
  const topK = Number(values["top-k"]);
  // pnpm runs scripts in the package's folder and passes the caller's as INIT_CWD.
  const path =
    values.words === undefined
      ? WORD_LIST
      : resolve(process.env.INIT_CWD ?? process.cwd(), values.words);

  const words = readWords(path);
  const split = splitWords(words, { seed });
  const tokenizer = wordTokenizer();
  const train = wordExamples(split.train, tokenizer);
  const validation = wordExamples(split.validation, tokenizer);
  const known = new Set(words);
  console.log(
    `${words.length} words of a–z from ${path}: ${split.train.length} train ` +
      `(${predictedCharacters(split.train)} characters), ${split.validation.length} validation ` +
      `(${predictedCharacters(split.validation)} characters predicted); backend ` +
      `${describeBackend()}`,
  );

  const bigram = fitBigram(train, validation, tokenizer.size);
  const tried = bigram.byK.map((r) => `k ${r.k}: ${r.nats.toFixed(4)}`).join(", ");
  console.log(`bigram, add-k smoothing on validation (${tried})`);
  const results = [`bigram (k = ${bigram.model.k})  ${bigram.nats.toFixed(3)} nats/char`];

  for (const kind of kinds) {
    const model: CharModel =
      kind === "gpt"
        ? gpt({ vocabSize: tokenizer.size })
        : lstmModel({ vocabSize: tokenizer.size });
    const start = performance.now();
    const { params } = trainModel(model, train, {
      steps,
      batchSize,
      lr,
      seed,
      log: console.log,
      logEvery: 100,
    });
    const seconds = (performance.now() - start) / 1000;
    const nats = evaluateNats(model, params, validation);
    console.log(
      `${kind}: ${paramCount(params)} params, ${steps} steps of ${batchSize} words in ` +
        `${seconds.toFixed(0)} s; validation ${nats.toFixed(3)} nats/char ` +
        `(${signed(nats - bigram.nats)} against the bigram)`,
    );
    results.push(`${kind.padEnd(15)}  ${nats.toFixed(3)} nats/char`);
    const samples = sampleWords(model, params, tokenizer, {
      key: randomKey(seed),
      count: 10,
      temperature,
      topK,
    });
    const marked = samples.map((w) => (known.has(w) ? `${w} (in the list)` : w));
    console.log(`${kind} samples (temperature ${temperature}, top-${topK}): ${marked.join(", ")}`);
  }
  console.log(`\nvalidation cross-entropy:\n  ${results.join("\n  ")}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // The wasm GEMM's fused multiply-add needs relaxed SIMD, behind a flag in Node 20's V8; set
  // only when run as the command, since V8's flags are the whole process's.
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  await main();
}
