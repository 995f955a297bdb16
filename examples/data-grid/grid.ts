// Looks at the data before training on it: the first 64 Fashion-MNIST training images, each
// captioned with its class, written as one PNG grid.
//
//   tsx grid.ts [out.png] [--data DIR]
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gather, arange } from "@tapegrad/autodiff";
import { FASHION_MNIST_CLASSES } from "@tapegrad/data";
import { fashionMnist, saveImageGrid } from "@tapegrad/data/node";

/** Writes the first `count` training images of the Fashion-MNIST in `dir` (or the default places). */
export async function writeFashionGrid(out: string, dir?: string, count = 64): Promise<string> {
  const { images, labels } = await fashionMnist({ split: "train", ...(dir ? { dir } : {}) });
  const first = arange(0, Math.min(count, images.shape[0]!), 1, "int32");
  const path = resolve(out);
  await saveImageGrid(path, gather(images, first), {
    labels: gather(labels, first),
    classNames: FASHION_MNIST_CLASSES,
    columns: 8,
    scale: 2,
  });
  return path;
}

function parseArgs(argv: readonly string[]): { out: string; dir?: string } {
  let out = "fashion-grid.png";
  let dir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    // `pnpm start -- out.png` passes the "--" along; it separates nothing here.
    if (arg === "--data") dir = argv[++i];
    else if (arg !== "--") out = arg;
  }
  return dir === undefined ? { out } : { out, dir };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { out, dir } = parseArgs(process.argv.slice(2));
  const path = await writeFashionGrid(out, dir);
  console.log(`wrote ${path}`);
}
