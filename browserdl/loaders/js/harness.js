// The page side of a browser run: loads a runtime's library and adapter, then runs one
// converted model. Every phase is timed here with performance.now(); Python only reads the
// returned numbers (page.evaluate round trips cost milliseconds).
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

  // opts: {adapter, backend, formatUrl, inputUrl, shape, libraryUrl}
  async function run(opts) {
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
    t = now();
    const out = await adapter.predict(lib, model, input, opts.shape);
    phases.first_batch = now() - t;
    return { phases, backend, shape: out.shape, output: Array.from(out.data) };
  }

  self.browserdl = { run };
})();
