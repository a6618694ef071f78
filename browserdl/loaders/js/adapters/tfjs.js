// TensorFlow.js layers models (tfjs-layers, -f16, -u8) and graph models (tfjs-graph, -f16, -u8;
// inference only). The face every adapter has:
//   setup(lib, backend, threads) -> backend actually in use (threads: wasm threads to pin,
//                            the same on every engine; adapters without wasm ignore it)
//   parse(lib, files, manifest) -> decoded model data   (files: Map name -> ArrayBuffer)
//   build(lib, parsed) -> model                          (framework objects, weights uploaded)
//   predict(lib, model, input: Float32Array, shape) -> {data: Float32Array, shape}
//   threads(lib, backend) -> threads the backend computes on (optional: 1 when absent; > 1
//                            only for wasm threads, where the native baseline uses every core)
// or, for a library without batches (ConvNetJS, brain.js, synaptic, Mind, Keras.js, WebDNN):
//   predictOne(lib, model, sample: Float32Array) -> that sample's outputs (array-like; may be async)
//   inputSize(lib, model) -> values per sample the model takes (optional: then not checked)
// common.js's browserdlPredict runs a batch through either, then applies the manifest's output
// transform (manifest.outputs: softmax, signed pairs; see converter/base.py) to every sample,
// so no adapter does either. The backends a runtime has are its record in loaders/runtimes.py.
// And, where the library can train, `train` (the training face):
//   updates                                  how the library applies one batch (for the report)
//   start(lib, model, {learningRate, loss, batchSize, outputs}) -> trainer   plain SGD;
//                                            trainer.objective (outputs: manifest.outputs)
//   batch(lib, trainer, x, y: Float32Array, shape) -> the batch in the library's own form
//                                            (y one-hot; prepared before any timing)
//   step(lib, trainer, batch) -> loss        one timed training step on the batch
//   evaluate(lib, trainer, batch) -> loss    the library's objective on a batch, no update
// An error whose message starts with 'n/a: ' says the library can't run (predict) or train this
// model there (recorded as not applicable, not as a failure).
// Runs in Node (library from require) and in a page (library a global from its <script>).
(function (register) {
  const dist = '/node_modules/@tensorflow/';

  // The first (or only) output of a graph model; the others are disposed.
  function firstOutput(tf, out) {
    if (out instanceof tf.Tensor) return out;
    const all = Array.isArray(out) ? out : Object.values(out);
    all.slice(1).forEach((t) => t.dispose());
    return all[0];
  }

  // execute() while the graph allows it; a graph with control flow (an LSTM's While loop) or
  // dynamic shapes makes TF.js throw "... Please use model.executeAsync() instead": switch for
  // good. tidy frees what a refused execute() had already computed.
  async function executeGraph(tf, model, x) {
    try {
      if (!model.async) {
        try {
          return firstOutput(tf, tf.tidy(() => model.graphModel.execute(x)));
        } catch (e) {
          if (!/executeAsync/.test(String(e && e.message))) throw e;
          model.async = true;
        }
      }
      return firstOutput(tf, await model.graphModel.executeAsync(x));
    } catch (e) {
      // this backend lacks a kernel the graph needs: TF.js 4.22's wasm _FusedMatMul takes a
      // rank-1 bias only, and tensorflowjs fuses an LSTM's recurrent add into one
      if (/only supports rank-1 bias|not registered for backend/.test(String(e && e.message))) {
        throw new Error('n/a: TF.js ' + tf.getBackend() + ' cannot run this graph: ' + e.message);
      }
      throw e;
    }
  }
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

    async setup(tf, backend, threads) {
      if (backend === 'wasm' && tf.wasm) {
        tf.wasm.setWasmPaths(dist + 'tfjs-backend-wasm/dist/');
        tf.wasm.setThreadsCount(threads); // before the backend starts its pool
      }
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
      const artifacts = {
        modelTopology: model.modelTopology,
        weightSpecs: groups.flatMap((g) => g.weights),
        weightData: weightData.buffer,
      };
      const graph = model.format === 'graph-model';
      if (graph) {
        // what tf.io.http passes besides the graph: the signature names and orders the inputs
        // and outputs (without it TF.js takes every node without children as an output)
        for (const key of ['signature', 'userDefinedMetadata', 'modelInitializer', 'initializerSignature']) {
          if (model[key] != null) artifacts[key] = model[key];
        }
      }
      return { graph, artifacts };
    },

    async build(tf, parsed) {
      if (!parsed.graph) return tf.loadLayersModel(tf.io.fromMemory(parsed.artifacts));
      // async: whether the graph needs executeAsync, learnt on the first predict
      return { graphModel: await tf.loadGraphModel(tf.io.fromMemory(parsed.artifacts)), async: false };
    },

    threads(tf, backend) {
      // XNNPACK's pool as set up (setThreadsCount needs cross-origin isolation to go above 1)
      return backend === 'wasm' && tf.wasm ? tf.wasm.getThreadsCount() : 1;
    },

    async predict(tf, model, input, shape) {
      const x = tf.tensor(input, shape);
      try {
        const y = model.graphModel ? await executeGraph(tf, model, x) : model.predict(x);
        const data = await y.data();
        const outShape = y.shape;
        y.dispose();
        return { data, shape: outShape };
      } finally {
        x.dispose();
      }
    },

    train: {
      updates: 'mini-batch: the mean gradient of the batch, one update',
      async start(tf, model, opts) {
        if (model.graphModel) throw new Error('n/a: a TF.js graph model runs inference only');
        const loss = { categorical_crossentropy: 'categoricalCrossentropy',
          mean_squared_error: 'meanSquaredError' }[opts.loss];
        if (!loss) throw new Error('no TensorFlow.js loss for ' + opts.loss);
        model.compile({ optimizer: tf.train.sgd(opts.learningRate), loss });
        return { model, objective: opts.loss };
      },
      async batch(tf, trainer, x, y, shape) {
        return { x: tf.tensor(x, shape), y: tf.tensor(y, [shape[0], y.length / shape[0]]) };
      },
      async step(tf, trainer, b) {
        try {
          return await trainer.model.trainOnBatch(b.x, b.y); // resolves once the loss is read back
        } catch (e) {
          // e.g. the wasm backend has no Conv2DBackpropFilter: this backend can't train the model
          if (/not registered for backend/.test(e.message)) throw new Error('n/a: ' + e.message);
          throw e;
        }
      },
      async evaluate(tf, trainer, b) {
        const loss = trainer.model.evaluate(b.x, b.y, { batchSize: b.x.shape[0] });
        const value = (await loss.data())[0];
        loss.dispose();
        return value;
      },
      free(tf, b) { b.x.dispose(); b.y.dispose(); },
    },
  });
})(typeof module !== 'undefined' ? (a) => { module.exports = a; }
  : (a) => { (self.browserdlAdapters = self.browserdlAdapters || {})[a.name] = a; });
