// WebDNN 1.2.11 graph descriptors (webdnn-fallback, webdnn-webgl, webdnn-webassembly).
// Browser only: the runtime needs `window`, `document` and (webassembly) Web Workers.
//
// WebDNN.load(directory) fetches, decodes and builds in one call. Its one seam is
// `transformUrlDelegate`, through which every URL it requests passes (descriptor and weights
// over XHR, kernels_fallback.js as a <script>, kernels_webassembly.js/.wasm in a Worker). So:
//   parse: decode the descriptor JSON, check every file against the manifest's byte counts
//          and wrap the already-downloaded bytes in blob: URLs;
//   build: WebDNN.load with a delegate that answers each file name with its blob: URL, so no
//          byte is fetched twice from the network; what it times is WebDNN's own re-read of the
//          in-memory files, weight decoding, kernel/shader compilation and weight upload.
// The compiled descriptors have a batch of 1 (WebDNN fixes shapes at conversion time), so the
// adapter has predictOne: common.js runs the graph once per input row.
(function (register) {
  const DIRECTORY = 'webdnn-model'; // a name only: every URL under it is answered from memory
  const LOAD_TIMEOUT_MS = 60000; // a kernel <script> that never fires onload would hang load()
  const RUN_TIMEOUT_MS = 60000;

  function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(what + ' timed out after ' + ms / 1000 + ' s')), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  function printable(text) {
    return String(text).replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
  }

  function baseName(url) {
    return String(url).split(/[?#]/)[0].split('/').pop();
  }

  register({
    name: 'webdnn',
    node: null, // browser only
    browser: { global: 'WebDNN', scripts: ['/node_modules/webdnn/dist/webdnn.js'] },

    async setup(WebDNN, backend) {
      const status = WebDNN.getBackendAvailability().status;
      if (!(backend in status)) throw new Error('WebDNN has no backend ' + backend);
      if (!status[backend]) throw new Error('WebDNN backend ' + backend + ' is not available in this browser');
      // Availability only: build() checks the backend the loaded runner really uses.
      return backend;
    },

    async parse(WebDNN, files, manifest) {
      const entry = manifest.entry; // graph_<backend>.json or graph_webgl_<texture size>.json
      const match = /^graph_([a-z]+)(?:_\d+)?\.json$/.exec(entry);
      if (!match) throw new Error('not a WebDNN graph descriptor: ' + entry);
      for (const f of manifest.files) {
        const bytes = files.get(f.name);
        if (!bytes) throw new Error(f.name + ' is missing');
        if (bytes.byteLength !== f.bytes) {
          throw new Error(f.name + ' has ' + bytes.byteLength + ' bytes, the manifest says ' + f.bytes
            + ' (truncated or replaced)');
        }
      }
      let descriptor;
      try {
        descriptor = JSON.parse(new TextDecoder().decode(files.get(entry)));
      } catch (e) {
        throw new Error(entry + ' is not valid JSON: ' + printable(e.message));
      }
      // A broken module would only surface as a Worker that never answers (a 60 s timeout).
      const wasm = files.get('kernels_webassembly.wasm');
      if (wasm && !WebAssembly.validate(wasm)) {
        throw new Error('kernels_webassembly.wasm is not a valid WebAssembly module');
      }
      if (!descriptor.memory_layout || !Array.isArray(descriptor.inputs) || descriptor.inputs.length !== 1) {
        throw new Error(entry + ' is not a single-input WebDNN graph descriptor');
      }
      const urls = new Map();
      for (const [name, bytes] of files) {
        const type = name.endsWith('.js') ? 'text/javascript'
          : name.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
        urls.set(name, URL.createObjectURL(new Blob([bytes], { type })));
      }
      return { backend: match[1], descriptor, urls };
    },

    async build(WebDNN, parsed, backend) {
      backend = backend || parsed.backend;
      if (backend !== parsed.backend) {
        throw new Error('descriptor is for the ' + parsed.backend + ' backend, asked to run on ' + backend);
      }
      const unknown = [];
      const warnings = [];
      const warn = console.warn;
      console.warn = (...args) => { warnings.push(args.join(' ')); warn.apply(console, args); };
      let runner;
      delete self.dnn_fallback_kernel; // never run an earlier model's kernels
      try {
        runner = await withTimeout(WebDNN.load(DIRECTORY, {
          backendOrder: [backend], // one backend: no silent fall-back to another
          cacheStrategy: 'networkOnly', // never IndexedDB: a cached model would hide the files
          saveCache: false,
          transformUrlDelegate: (url) => {
            const blob = parsed.urls.get(baseName(url));
            if (!blob) unknown.push(baseName(url));
            return blob || url;
          },
        }), LOAD_TIMEOUT_MS, 'WebDNN.load on ' + backend);
      } catch (e) {
        // load() reports each backend's failure through console.warn, then a generic error.
        const why = warnings.filter((w) => /^Model loading failed/.test(w))
          .map((w) => w.replace(/^.*Trying next backend: /, '')).join('; ') || e.message;
        throw new Error('WebDNN could not load the model on ' + backend + ': ' + printable(why)
          + (unknown.length ? ' (asked for files not in the format: ' + unknown.join(', ') + ')' : ''));
      } finally {
        console.warn = warn;
        for (const url of parsed.urls.values()) URL.revokeObjectURL(url);
      }
      if (runner.backendName !== backend) {
        throw new Error('WebDNN ran on ' + runner.backendName + ', not the asked ' + backend);
      }
      // kernels_fallback.js defines window.dnn_fallback_kernel; a broken one still fires onload.
      if (backend === 'fallback' && !runner.kernelObj) {
        throw new Error('kernels_fallback.js did not define WebDNN\'s fallback kernels');
      }
      return runner;
    },

    inputSize(WebDNN, runner) {
      return runner.getInputViews()[0].length;
    },

    async predictOne(WebDNN, runner, sample) {
      runner.getInputViews()[0].set(sample); // the views are the runner's own, made once
      await withTimeout(runner.run(), RUN_TIMEOUT_MS, 'WebDNN run on ' + runner.backendName);
      return runner.getOutputViews()[0].toActual();
    },
  });
})(typeof module !== 'undefined' ? (a) => { module.exports = a; }
  : (a) => { (self.browserdlAdapters = self.browserdlAdapters || {})[a.name] = a; });
