// The page side of a browser run: loads a runtime's library and adapter, then one converted
// model. Every phase is timed here with performance.now(); Python only reads the returned
// numbers (page.evaluate round trips cost milliseconds).
//   browserdl.run(opts)      load, then one batch: the parity check
//   browserdl.measureLoad / measureInference   load; warm-up, steady-state runs, batch runs
//   browserdl.trainStart / trainChunk / trainFinish   training batches through the adapter's
//                            `train` face (see adapters/tfjs.js)
// opts: {adapter, backend, formatUrl, inputUrl, shape, libraryUrl?, runs?, batchRuns?, threads?}
// training adds: {labelsUrl, batchSize, batches, probe, learningRate, loss}
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

  // What the browser's resource timing saw for the URLs a test accepts: bytes on the wire
  // (transferSize: body as sent + headers; 0 from cache), body as sent, body decoded.
  function transferred(test) {
    const sum = { transfer: 0, encoded: 0, decoded: 0 };
    for (const e of performance.getEntriesByType('resource')) {
      if (!test(e.name)) continue;
      sum.transfer += e.transferSize || 0;
      sum.encoded += e.encodedBodySize || 0;
      sum.decoded += e.decodedBodySize || 0;
    }
    return sum;
  }
  const isLibrary = (url) => url.includes('/node_modules/') || url.includes('/lib/');

  async function load(opts) {
    const phases = {};
    await addScript('/js/adapters/' + opts.adapter + '.js'); // ours, not the library's: untimed
    let t = now();
    const adapter = self.browserdlAdapters[opts.adapter];
    const scripts = opts.libraryUrl ? [opts.libraryUrl] : adapter.browser.scripts;
    for (const src of scripts) await addScript(src);
    for (const src of (adapter.browser.backendScripts || {})[opts.backend] || []) await addScript(src);
    const lib = self[adapter.browser.global];
    const backend = adapter.setup ? await adapter.setup(lib, opts.backend, opts.threads || 1) : opts.backend;
    phases.library = now() - t;

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
    const threads = adapter.threads ? adapter.threads(lib, backend) : 1;
    const library = transferred(isLibrary); // scripts and wasm (fetched during build by some)
    const transfer = { library, model: transferred((url) => url.includes(opts.formatUrl + '/')) };
    const input = new Float32Array(await fetchBytes(opts.inputUrl));
    return { adapter, lib, model, backend, phases, input, libraryBytes: library.decoded, transfer,
             outputs: manifest.outputs || 'raw', threads };
  }

  async function run(opts) {
    const { adapter, lib, model, backend, phases, input, outputs } = await load(opts);
    const t = now();
    const out = await browserdlPredict(adapter, lib, model, input, opts.shape, outputs);
    phases.first_batch = now() - t;
    return { phases, backend, shape: out.shape, output: Array.from(out.data) };
  }

  function environment() {
    const gl = document.createElement('canvas').getContext('webgl2')
      || document.createElement('canvas').getContext('webgl');
    const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
    // the timer's resolution: the smallest non-zero step over 5 ms and at least 20 steps (a
    // preempted page would otherwise see one long step), 50 ms at most
    let step = Infinity;
    let steps = 0;
    for (let last = now(), start = last; (last - start < 5 || steps < 20) && last - start < 50;) {
      const t = now();
      if (t > last) {
        steps += 1;
        if (t - last < step) step = t - last;
      }
      last = t;
    }
    return {
      renderer: gl ? String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)) : '',
      crossOriginIsolated: self.crossOriginIsolated === true,
      timerResolutionMs: step,
      userAgent: navigator.userAgent,
      hardwareConcurrency: navigator.hardwareConcurrency,
      webgpu: 'gpu' in navigator,
    };
  }

  // Phase 1 of a measurement: everything up to a built model (Python reads the CPU counters
  // between the two halves).
  let loaded = null;
  async function measureLoad(opts) {
    loaded = await load(opts);
    return { phases: loaded.phases, backend: loaded.backend, libraryBytes: loaded.libraryBytes,
             transfer: loaded.transfer, threads: loaded.threads, env: environment() };
  }

  // Phase 2: warm-up (first single-sample inference), steady state, batch.
  async function measureInference(opts) {
    const { adapter, lib, model, input, outputs } = loaded;
    const perSample = input.length / opts.shape[0];
    const one = input.subarray(0, perSample);
    const oneShape = [1, ...opts.shape.slice(1)];
    const timed = async (x, shape) => {
      const t = now();
      const out = await browserdlPredict(adapter, lib, model, x, shape, outputs);
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

  // Training, in three calls so that Python reads the CPU counters between chunks (the paper's
  // Table 2 samples utilisation over time). Start: load, every batch prepared in the library's
  // own form (untimed), the probe's loss, then one timed warm-up batch.
  let training = null;
  async function trainStart(opts) {
    const run = await load(opts);
    const { adapter, lib, model, input } = run;
    if (!adapter.train) throw new Error(opts.adapter + ' cannot train: its library has no training API');
    const labels = new Float32Array(await fetchBytes(opts.labelsUrl));
    const samples = (opts.batches + 1) * opts.batchSize; // the warm-up batch, then the timed ones
    const inWidth = input.length / samples;
    const outWidth = labels.length / samples;
    if (!Number.isInteger(inWidth) || !Number.isInteger(outWidth)) {
      throw new Error('the training data do not hold ' + samples + ' samples');
    }
    const slice = (from, count) => adapter.train.batch(lib, trainer,
      input.subarray(from * inWidth, (from + count) * inWidth),
      labels.subarray(from * outWidth, (from + count) * outWidth), [count, ...opts.shape.slice(1)]);
    const trainer = await adapter.train.start(lib, model, {
      learningRate: opts.learningRate, loss: opts.loss, batchSize: opts.batchSize, outputs: run.outputs });
    const batches = [];
    for (let b = 0; b <= opts.batches; b++) batches.push(await slice(b * opts.batchSize, opts.batchSize));
    const probe = await slice(0, opts.probe);
    const lossBefore = await adapter.train.evaluate(lib, trainer, probe);
    const t = now();
    const warmupLoss = await adapter.train.step(lib, trainer, batches[0]);
    run.phases.train_warmup = now() - t;
    training = { adapter, lib, trainer, batches, probe, next: 1 };
    return { phases: run.phases, backend: run.backend, libraryBytes: run.libraryBytes, env: environment(),
             threads: run.threads, lossBefore, warmupLoss, objective: trainer.objective, updates: adapter.train.updates };
  }

  // Timed batches until `minMs` has passed (at least one) or none are left.
  async function trainChunk(opts) {
    const { adapter, lib, trainer, batches } = training;
    const times = [];
    const losses = [];
    const start = now();
    while (training.next < batches.length && (times.length === 0 || now() - start < opts.minMs)) {
      const t = now();
      losses.push(await adapter.train.step(lib, trainer, batches[training.next]));
      times.push(now() - t);
      training.next += 1;
    }
    return { times, losses, done: training.next >= batches.length };
  }

  async function trainFinish() {
    const { adapter, lib, trainer, batches, probe } = training;
    const lossAfter = await adapter.train.evaluate(lib, trainer, probe);
    if (adapter.train.free) [...batches, probe].forEach((b) => adapter.train.free(lib, b));
    training = null;
    return { lossAfter };
  }

  self.browserdl = { run, measureLoad, measureInference, trainStart, trainChunk, trainFinish,
    environment: async () => environment() };
})();
