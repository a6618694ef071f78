// Runs one converted model in Node through its runtime's adapter and writes the outputs.
//   node node_run.js ADAPTER FORMAT_DIR INPUT.bin SHAPE(comma) OUTPUT.bin [LIBRARY_PATH]
// Prints one JSON line: {ok, shape, backend, version} or {ok: false, error}.
'use strict';
const fs = require('fs');
const path = require('path');
require('./common.js'); // browserdlReadJSON, browserdlPredict, as the page gets them

async function main() {
  const [name, dir, inputPath, shapeText, outputPath, libraryPath] = process.argv.slice(2);
  const adapter = require(path.join(__dirname, 'adapters', name + '.js'));
  const lib = require(libraryPath || adapter.node.module);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const files = new Map();
  for (const f of manifest.files) {
    const b = fs.readFileSync(path.join(dir, f.name));
    files.set(f.name, b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  const backend = adapter.setup ? await adapter.setup(lib, 'cpu', 1) : 'cpu';
  const parsed = await adapter.parse(lib, files, manifest);
  const model = await adapter.build(lib, parsed);
  const raw = fs.readFileSync(inputPath);
  const input = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const shape = shapeText.split(',').map(Number);
  const out = await browserdlPredict(adapter, lib, model, input, shape, manifest.outputs);
  fs.writeFileSync(outputPath, Buffer.from(Float32Array.from(out.data).buffer));
  return { ok: true, shape: out.shape, backend };
}

main().then(
  (r) => { process.stdout.write(JSON.stringify(r) + '\n'); },
  (e) => {
    const message = String((e && e.message) || e).split('\n')[0];
    process.stdout.write(JSON.stringify({ ok: false, error: message }) + '\n');
    process.exitCode = 1;
  },
);
