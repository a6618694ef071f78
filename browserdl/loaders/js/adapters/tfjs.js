// TensorFlow.js layers models (tfjs-layers, -f16, -u8). The face every adapter has:
//   setup(lib, backend) -> backend actually in use
//   parse(lib, files, manifest) -> decoded model data   (files: Map name -> ArrayBuffer)
//   build(lib, parsed) -> model                          (framework objects, weights uploaded)
//   predict(lib, model, input: Float32Array, shape) -> {data: Float32Array, shape}
// Runs in Node (library from require) and in a page (library a global from its <script>).
(function (register) {
  const dist = '/node_modules/@tensorflow/';
  register({
    name: 'tfjs',
    node: { module: '@tensorflow/tfjs' },
    browser: {
      global: 'tf',
      scripts: [dist + 'tfjs/dist/tf.min.js'],
      backendScripts: {
        wasm: [dist + 'tfjs-backend-wasm/dist/tf-backend-wasm.min.js'],
        webgpu: [dist + 'tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js'],
      },
    },
    backends: ['cpu', 'wasm', 'webgl', 'webgpu'],

    async setup(tf, backend) {
      if (backend === 'wasm' && tf.wasm) tf.wasm.setWasmPaths(dist + 'tfjs-backend-wasm/dist/');
      const ok = await tf.setBackend(backend);
      await tf.ready();
      if (!ok) throw new Error('tfjs backend ' + backend + ' failed to initialise');
      return tf.getBackend();
    },

    async parse(tf, files, manifest) {
      const model = JSON.parse(new TextDecoder().decode(files.get(manifest.entry)));
      const groups = model.weightsManifest;
      const shards = groups.flatMap((g) => g.paths).map((p) => new Uint8Array(files.get(p)));
      const weightData = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
      let offset = 0;
      for (const s of shards) { weightData.set(s, offset); offset += s.length; }
      return {
        modelTopology: model.modelTopology,
        weightSpecs: groups.flatMap((g) => g.weights),
        weightData: weightData.buffer,
      };
    },

    async build(tf, parsed) {
      return tf.loadLayersModel(tf.io.fromMemory(parsed));
    },

    async predict(tf, model, input, shape) {
      const x = tf.tensor(input, shape);
      const y = model.predict(x);
      const data = await y.data();
      const outShape = y.shape;
      x.dispose();
      y.dispose();
      return { data, shape: outShape };
    },
  });
})(typeof module !== 'undefined' ? (a) => { module.exports = a; }
  : (a) => { (self.browserdlAdapters = self.browserdlAdapters || {})[a.name] = a; });
