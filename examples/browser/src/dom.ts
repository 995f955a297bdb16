// The little of the DOM this page uses, typed here rather than through TypeScript's "dom"
// library: the repository's root tsconfig type-checks every example against Node's types, and
// adding the DOM library to that program would change how other packages type-check (the wasm
// backend declares its own WebAssembly types). Each interface is a subset of the real one.

export interface Canvas2D {
  strokeStyle: string;
  fillStyle: string;
  lineWidth: number;
  font: string;
  clearRect(x: number, y: number, width: number, height: number): void;
  beginPath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  arc(x: number, y: number, radius: number, start: number, end: number): void;
  stroke(): void;
  fill(): void;
  fillText(text: string, x: number, y: number): void;
  setLineDash(segments: number[]): void;
  createImageData(width: number, height: number): { readonly data: Uint8ClampedArray };
  putImageData(image: { readonly data: Uint8ClampedArray }, x: number, y: number): void;
}

export interface HtmlElement {
  textContent: string | null;
  className: string;
  disabled: boolean;
  readonly dataset: Record<string, string | undefined>;
  append(...children: HtmlElement[]): void;
  replaceChildren(...children: HtmlElement[]): void;
  addEventListener(type: "click", listener: () => void): void;
}

export interface CanvasElement extends HtmlElement {
  width: number;
  height: number;
  getContext(kind: "2d"): Canvas2D | null;
}

interface Document {
  readonly body: HtmlElement;
  getElementById(id: string): HtmlElement | null;
  createElement(tag: "canvas"): CanvasElement;
  createElement(tag: "div"): HtmlElement;
}

export const document = Reflect.get(globalThis, "document") as Document;
export const location = Reflect.get(globalThis, "location") as { readonly search: string };

/** Calls `callback` before the next repaint. */
export function requestAnimationFrame(callback: (time: number) => void): void {
  (Reflect.get(globalThis, "requestAnimationFrame") as (cb: (time: number) => void) => void)(
    callback,
  );
}

/** The element with this id, which the page's HTML is known to contain. */
export function byId<T extends HtmlElement = HtmlElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no element #${id}`);
  return element as T;
}

/** The 2-D context of a canvas. */
export function context2d(canvas: CanvasElement): Canvas2D {
  const ctx = canvas.getContext("2d");
  if (ctx === null) throw new Error("this browser has no 2-D canvas");
  return ctx;
}
