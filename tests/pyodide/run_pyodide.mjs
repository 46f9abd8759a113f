// Runs a Python script inside Pyodide under Node, offline from the npm package's own files.
//   node --experimental-wasm-jspi run_pyodide.mjs CONFIG.json
// CONFIG: {"pyodide": "<the package folder>", "script": "<a .py file>", "mounts": [[host, guest], ...],
//          "config": {...}} -- the script reads CONFIG (a JSON string) and its value (a number, or a
//          coroutine giving one) is the exit status. Python's output goes to this process's.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { loadPyodide } = await import(pathToFileURL(config.pyodide + "/pyodide.mjs").href);
const started = Date.now();
const pyodide = await loadPyodide({
  indexURL: config.pyodide + "/",
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
process.stdout.write(`pyodide ${pyodide.version} loaded in ${Date.now() - started} ms\n`);
for (const [host, guest] of config.mounts || []) {
  pyodide.FS.mkdirTree(guest);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: host }, guest);
}
pyodide.globals.set("CONFIG", JSON.stringify(config.config || {}));
let status = 1;
try {
  const code = readFileSync(config.script, "utf8");
  const result = config.sync ? pyodide.runPython(code, { filename: config.script })
                             : await pyodide.runPythonAsync(code, { filename: config.script });
  status = typeof result === "number" ? result : 0;
} catch (error) {
  process.stderr.write(`the script failed: ${error && error.message ? error.message : error}\n`);
}
process.exit(status);
