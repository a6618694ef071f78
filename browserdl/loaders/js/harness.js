// The page side of a browser run: loads a runtime's library and adapter, then one converted
// model. Every phase is timed here with performance.now(); Python only reads the returned
// numbers (page.evaluate round trips cost milliseconds).
//   browserdl.run(opts)      load, then one batch: the parity check
//   browserdl.measure(opts)  load, warm-up, steady-state single-sample runs, batch runs
// opts: {adapter, backend, formatUrl, inputUrl, shape, libraryUrl?, runs?, batchRuns?}
(function () {
  const now = () => performance.now();

  function addScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error('could not load script ' + src));
      document.head.appendChild(s);
    });
  }

  async function fetchBytes(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(url + ': HTTP ' + response.status);
    return response.arrayBuffer();
  }

  async function load(opts) {
    const phases = {};
    let t = now();
    await addScript('/js/adapters/' + opts.adapter + '.js');
    const adapter = self.browserdlAdapters[opts.adapter];
    const scripts = opts.libraryUrl ? [opts.libraryUrl] : adapter.browser.scripts;
    for (const src of scripts) await addScript(src);
    for (const src of (adapter.browser.backendScripts || {})[opts.backend] || []) await addScript(src);
    const lib = self[adapter.browser.global];
    const backend = adapter.setup ? await adapter.setup(lib, opts.backend) : opts.backend;
    phases.library = now() - t;
    // the library's own bytes (scripts, wasm), as the browser's resource timing saw them
    const libraryBytes = performance.getEntriesByType('resource')
      .filter((e) => e.name.includes('/node_modules/') || e.name.includes('/lib/'))
      .reduce((n, e) => n + (e.decodedBodySize || 0), 0);

    t = now();
    const manifest = JSON.parse(new TextDecoder().decode(await fetchBytes(opts.formatUrl + '/manifest.json')));
    const files = new Map();
    await Promise.all(manifest.files.map(async (f) => {
      files.set(f.name, await fetchBytes(opts.formatUrl + '/' + f.name));
    }));
    phases.download = now() - t;

    t = now();
    const parsed = await adapter.parse(lib, files, manifest);
    phases.parse = now() - t;
    t = now();
    const model = await adapter.build(lib, parsed, opts.backend);
    phases.build = now() - t;
    const input = new Float32Array(await fetchBytes(opts.inputUrl));
    return { adapter, lib, model, backend, phases, input, libraryBytes };
  }

  async function run(opts) {
    const { adapter, lib, model, backend, phases, input } = await load(opts);
    const t = now();
    const out = await adapter.predict(lib, model, input, opts.shape);
    phases.first_batch = now() - t;
    return { phases, backend, shape: out.shape, output: Array.from(out.data) };
  }

  function environment() {
    const gl = document.createElement('canvas').getContext('webgl2')
      || document.createElement('canvas').getContext('webgl');
    const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
    let step = Infinity; // the timer's resolution: smallest non-zero step over 5 ms
    for (let last = now(), end = last + 5; last < end;) {
      const t = now();
      if (t > last && t - last < step) step = t - last;
      last = t;
    }
    return {
      renderer: gl ? String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)) : '',
      crossOriginIsolated: self.crossOriginIsolated === true,
      timerResolutionMs: step,
      userAgent: navigator.userAgent,
      hardwareConcurrency: navigator.hardwareConcurrency,
    };
  }

  // Phase 1 of a measurement: everything up to a built model (Python reads the CPU counters
  // between the two halves).
  let loaded = null;
  async function measureLoad(opts) {
    loaded = await load(opts);
    return { phases: loaded.phases, backend: loaded.backend, libraryBytes: loaded.libraryBytes,
             env: environment() };
  }

  // Phase 2: warm-up (first single-sample inference), steady state, batch.
  async function measureInference(opts) {
    const { adapter, lib, model, input } = loaded;
    const perSample = input.length / opts.shape[0];
    const one = input.subarray(0, perSample);
    const oneShape = [1, ...opts.shape.slice(1)];
    const timed = async (x, shape) => {
      const t = now();
      const out = await adapter.predict(lib, model, x, shape);
      return [now() - t, out];
    };
    const phases = {};
    const samples = {};
    [phases.warmup] = await timed(one, oneShape);
    samples.inference = [];
    for (let i = 0; i < opts.runs; i++) samples.inference.push((await timed(one, oneShape))[0]);
    const [batchFirst, out] = await timed(input, opts.shape);
    phases.batch_warmup = batchFirst;
    samples.batch_inference = [];
    for (let i = 0; i < opts.batchRuns; i++) {
      samples.batch_inference.push((await timed(input, opts.shape))[0]);
    }
    return { phases, samples, shape: out.shape, output: Array.from(out.data) };
  }

  self.browserdl = { run, measureLoad, measureInference };
})();
