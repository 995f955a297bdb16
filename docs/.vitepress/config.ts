import { defineConfig } from "vitepress";

// The guide is the Markdown in docs/ (readable on GitHub as is); the API reference is TypeDoc's
// HTML, written to dist/api/ after the VitePress build (`pnpm run docs`), so links to it leave the
// single-page app: they get target="_self" and are exempt from the dead-link check.
const isApiLink = (url: string) => /^\/api(\/|$)/.test(url);

export default defineConfig({
  title: "tapegrad",
  description: "Differentiable programming in TypeScript: a tape of ops, each with its vjp rule.",
  rewrites: { "README.md": "index.md" },
  cleanUrls: false,
  lastUpdated: false,
  // Links out of docs/ point at the repository (examples, package READMEs): fine on GitHub,
  // not pages of this site.
  ignoreDeadLinks: [(url: string) => isApiLink(url) || url.includes("../")],
  markdown: {
    config(md) {
      const render = md.renderer.rules.link_open;
      md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
        const href = tokens[idx]!.attrGet("href") ?? "";
        if (isApiLink(href)) tokens[idx]!.attrSet("target", "_self");
        return render
          ? render(tokens, idx, options, env, self)
          : self.renderToken(tokens, idx, options);
      };
    },
  },
  themeConfig: {
    nav: [
      { text: "Guide", link: "/getting-started" },
      { text: "API reference", link: "/api/index.html", target: "_self" },
    ],
    sidebar: [
      {
        text: "Guide",
        items: [
          { text: "Getting started", link: "/getting-started" },
          { text: "Concepts", link: "/concepts" },
          { text: "How a CNN's backward pass emerges", link: "/cnn-backward" },
          { text: "Writing a new differentiable op", link: "/new-op" },
          { text: "Verifying gradients", link: "/gradient-checking" },
          { text: "Higher-order derivatives", link: "/higher-order" },
          { text: "Vectorizing with vmap", link: "/vmap" },
          { text: "Tracing with jit", link: "/jit" },
          { text: "Custom derivatives", link: "/custom-derivatives" },
          { text: "Rematerialisation", link: "/checkpoint" },
          { text: "Exporting to ONNX", link: "/onnx" },
          { text: "Sequence models", link: "/sequence-models" },
          { text: "Performance", link: "/performance" },
          { text: "Reliability", link: "/reliability" },
          { text: "Errors", link: "/errors" },
        ],
      },
      {
        text: "Reference",
        items: [
          { text: "API reference", link: "/api/index.html", target: "_self" },
          { text: "Catalogue of ops and exports", link: "/catalogue" },
        ],
      },
    ],
    search: { provider: "local" },
    outline: [2, 3],
  },
});
