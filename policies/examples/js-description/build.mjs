// Build plugin.js into a component with componentize-js (StarlingMonkey), against gitsync's WIT.
import { componentize } from "@bytecodealliance/componentize-js";
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const { component } = await componentize({
  sourcePath: here("./plugin.js"),
  // The WIT ships with the plugin (`npm run wit` refreshes it from the gitsync binary).
  witPath: here("./wit"),
  worldName: "plugin-policy",
  // A policy needs no WASI beyond what gitsync's sandbox gives every component.
  disableFeatures: ["http", "fetch-event", "stdio", "clocks", "random"],
});
await mkdir(here("./build"), { recursive: true });
await writeFile(here("./build/js-description.wasm"), component);
console.log(`built build/js-description.wasm (${component.length} bytes)`);
