// ONNX Runtime Web 1.30 (formats onnx, onnx-webgl). The adapter face is tfjs.js's.
// In Node, require('onnxruntime-web') runs the wasm backend (no webgl/webgpu there); in the page
// ort.all.min.js registers wasm, webgl and webgpu (JSEP) and fetches ort-wasm-simd-threaded.jsep.*
// from the folder set in ort.env.wasm.wasmPaths.
//
// Exactly one execution provider per session: given a list, ORT drops an unavailable one with a
// console warning and runs the next, so a session that exists ran on the provider asked for.
// Threads: pinned to what setup is given (ORT's own default, min(4, ceil(cores / 2)) in an
// isolated page, differs by engine: WebKit reports 4 cores on 2); `threads` reports it.
// parse only gathers the bytes: ORT decodes the protobuf inside InferenceSession.create (build).
(function (register) {
  const dist = '/node_modules/onnxruntime-web/dist/';
  // A one-node model (Relu on float[1, 1]), made with onnx.helper: setup creates a session from it
  // so that the backend initialises there (wasm fetched and compiled, GPU adapter taken), inside the
  // library phase, and so that an unavailable backend fails setup with ORT's own reason.
  const PROBE = 'CAgSCWJyb3dzZXJkbDo/CgwKAXgSAXkiBFJlbHUSBXByb2JlWhMKAXgSDgoMCAESCAoCCAEKAggB'
    + 'YhMKAXkSDgoMCAESCAoCCAEKAggBQgQKABAP';
  const BACKENDS = ['wasm', 'webgpu', 'webgl'];
  let provider = null; // the execution provider setup() found working

  function firstLine(e) {
    return String((e && e.message) || e).split('\n')[0];
  }

  async function run(ort, session, input, shape) {
    const x = new ort.Tensor('float32', input, shape);
    const outputs = await session.run({ [session.inputNames[0]]: x });
    const y = outputs[session.outputNames[0]];
    return { data: y.data, shape: y.dims };
  }

  register({
    name: 'ort',
    node: { module: 'onnxruntime-web' },
    browser: { global: 'ort', scripts: [dist + 'ort.all.min.js'] },

    async setup(ort, backend, threads) {
      // node_run.js asks every runtime for 'cpu': ORT's CPU execution provider is the wasm backend.
      const wanted = backend === 'cpu' ? 'wasm' : backend;
      if (!BACKENDS.includes(wanted)) throw new Error('onnxruntime-web has no backend ' + backend);
      if (typeof document !== 'undefined') ort.env.wasm.wasmPaths = dist;
      ort.env.wasm.numThreads = threads || 1;
      const bytes = Uint8Array.from(atob(PROBE), (c) => c.charCodeAt(0));
      let probe;
      try {
        probe = await ort.InferenceSession.create(bytes, { executionProviders: [wanted] });
      } catch (e) {
        throw new Error('onnxruntime-web backend ' + wanted + ' is not available: ' + firstLine(e));
      }
      await probe.release();
      provider = wanted;
      return wanted;
    },

    // Every .onnx file of the format: model.onnx (any batch) or model-b<N>.onnx (batch N only).
    async parse(ort, files, manifest) {
      const models = [];
      for (const f of manifest.files.filter((file) => file.name.endsWith('.onnx'))) {
        const bytes = files.get(f.name);
        if (!bytes) throw new Error(f.name + ' is missing from the format folder');
        const fixed = /^model-b(\d+)\.onnx$/.exec(f.name);
        models.push({ name: f.name, batch: fixed ? Number(fixed[1]) : null, bytes: new Uint8Array(bytes) });
      }
      if (!models.length) throw new Error('no .onnx file in the format folder');
      return models;
    },

    // One session per file (onnx-webgl: one per static batch, so both are built here).
    async build(ort, parsed) {
      const sessions = new Map(); // batch (null: any) -> session
      for (const m of parsed) {
        try {
          sessions.set(m.batch, await ort.InferenceSession.create(m.bytes, { executionProviders: [provider] }));
        } catch (e) {
          throw new Error(m.name + ' does not load on ' + provider + ': ' + firstLine(e));
        }
      }
      return sessions;
    },

    threads(ort, backend) {
      return backend === 'wasm' ? Number(ort.env.wasm.numThreads) || 1 : 1; // set once ORT initialised
    },

    async predict(ort, sessions, input, shape) {
      const exact = sessions.get(null) || sessions.get(shape[0]);
      if (exact) return run(ort, exact, input, shape);
      // A static-batch file set (onnx-webgl) and a batch it has no file for, e.g. the whole test
      // set: chunks of the largest batches it has. Timed runs (1 and the parity batch) never chunk.
      const sizes = [...sessions.keys()].sort((a, b) => b - a);
      const perRow = shape.slice(1).reduce((n, d) => n * d, 1);
      const parts = [];
      let rowShape = [];
      for (let row = 0; row < shape[0];) {
        const size = sizes.find((s) => s <= shape[0] - row);
        if (!size) throw new Error('no ONNX file fits batch ' + shape[0] + ' (static batches: ' + sizes + ')');
        const out = await run(ort, sessions.get(size), input.subarray(row * perRow, (row + size) * perRow),
          [size, ...shape.slice(1)]);
        parts.push(out.data);
        rowShape = out.shape.slice(1);
        row += size;
      }
      const data = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const p of parts) { data.set(p, offset); offset += p.length; }
      return { data, shape: [shape[0], ...rowShape] };
    },
  });
})(typeof module !== 'undefined' ? (a) => { module.exports = a; }
  : (a) => { (self.browserdlAdapters = self.browserdlAdapters || {})[a.name] = a; });
