// Bundles the page into dist/ (what is installed as /usr/share/cockpit/vigil):
// index.js and index.css from src/ and npm's xterm.js, beside index.html
// and manifest.json. Nothing is loaded from anywhere else at run time.
import { copyFile, mkdir, rm } from "node:fs/promises";

import { build } from "esbuild";

const out = "dist";
await rm(out, { recursive: true, force: true });
await mkdir(out);
await build({
    entryPoints: { index: "src/app.js" },
    bundle: true,
    minify: true,
    sourcemap: false,
    target: "es2020",
    format: "iife",
    legalComments: "linked",
    outdir: out,
    logLevel: "warning",
});
for (const f of ["index.html", "manifest.json"])
    await copyFile(f, `${out}/${f}`);
