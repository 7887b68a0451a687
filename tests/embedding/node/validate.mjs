// Validate a Git Sync repository with gitsync's own components, from Node.js.
//
//   node validate.mjs <components-dir> <repository>
//
// <components-dir> holds the four built-in components transpiled by jco
// (`jco transpile policies/builtin/schema.wasm -o <components-dir>/schema`, likewise aliases, deps,
// contracts). Prints the diagnostics as a JSON array, sorted like `gitsync validate --format json`.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";

const [componentsDir, repo] = process.argv.slice(2);
const load = async (name) => (await import(pathToFileURL(join(componentsDir, name, `${name}.js`)))) ;
const { schema } = await load("schema");
const { aliases } = await load("aliases");
const { deps } = await load("deps");
const { contracts } = await load("contracts");

// The host's job: read the files (the components never touch the filesystem).
const files = [];
const add = (abs) => files.push({ path: relative(repo, abs).split(sep).join("/"), contents: new Uint8Array(readFileSync(abs)) });
for (const name of readdirSync(repo)) {
  if (/^(manifest|aliases)-/.test(name) && statSync(join(repo, name)).isFile()) add(join(repo, name));
}
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const abs = join(dir, name);
    const st = statSync(abs);
    if (st.isDirectory()) walk(abs);
    else if (st.isFile()) add(abs);
  }
};
for (const folder of ["models", "syncs", "schema", "events/contracts"]) {
  try { walk(join(repo, folder)); } catch { /* folder absent */ }
}
files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

const diagnostics = [];
const resources = [];
for (const parsed of schema.parse({ path: "", spans: false }, files)) {
  diagnostics.push(...parsed.diagnostics);
  if (parsed.resource !== undefined) resources.push(parsed.resource);
}
for (const resolution of aliases.resolve(resources)) diagnostics.push(...resolution.diagnostics);
diagnostics.push(...deps.check(resources));
diagnostics.push(...contracts.check(resources));

const out = diagnostics.map((d) => ({
  code: d.code,
  severity: d.severity,
  message: d.message,
  path: d.path,
  line: d.span.line,
  column: d.span.column,
  end_line: d.span.endLine,
  end_column: d.span.endColumn,
  label: d.label ?? null,
  help: d.help ?? null,
  workspace: d.workspace ?? null,
  // Only plugins set this; this host runs the built-in components alone.
  plugin: null,
}));
const key = (d) => [d.path, String(d.line).padStart(9), String(d.column).padStart(9), d.code, d.workspace ?? "", d.message].join("\u0000");
out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
