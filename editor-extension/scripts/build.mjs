#!/usr/bin/env node
// Builds dist/: the extension bundle (esbuild), the daemon's panel page copied from ../daemon/panel
// (reused, never hand-copied), the extension's webview additions, and the endpoints.yaml JSON Schema
// from ../simulator for `yamlValidation`. Fails loudly when a source it copies is missing.
import { build } from "esbuild";
import { cp, mkdir, readdir, rm, copyFile, access } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const repo = join(root, "..");
const dist = join(root, "dist");
const production = process.argv.includes("--production");

async function mustExist(path, what) {
  try {
    await access(path);
  } catch {
    throw new Error(`build: ${what} not found at ${path}`);
  }
}

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

await build({
  entryPoints: [join(root, "src", "extension.ts")],
  bundle: true,
  outfile: join(dist, "extension.js"),
  platform: "node",
  target: "node18",
  format: "cjs",
  sourcemap: !production,
  minify: production,
  // ws loads these optional native helpers in a try/catch; the extension runs fine without them.
  external: ["vscode", "bufferutil", "utf-8-validate"],
  logLevel: "warning",
});

const panelSource = join(repo, "daemon", "panel");
await mustExist(join(panelSource, "index.html"), "the daemon's panel page");
// The page's files, not its README (which documents the folder in the repo).
await cp(panelSource, join(dist, "panel"), { recursive: true, filter: (src) => !src.endsWith("README.md") });
const copied = await readdir(join(dist, "panel"));
for (const required of ["index.html", "panel.js", "panel.css"]) {
  if (!copied.includes(required)) throw new Error(`build: daemon/panel/${required} is missing`);
}

await mkdir(join(dist, "webview"), { recursive: true });
await copyFile(join(root, "src", "webview", "host.css"), join(dist, "webview", "host.css"));

const schema = join(repo, "simulator", "endpoints.schema.json");
await mustExist(schema, "the endpoints.yaml JSON Schema");
await mkdir(join(dist, "schemas"), { recursive: true });
await copyFile(schema, join(dist, "schemas", "endpoints.schema.json"));

console.log(`built dist/ (extension.js, panel/ from daemon/panel: ${copied.join(", ")}, schemas/endpoints.schema.json)`);
