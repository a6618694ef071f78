// Keras.js 1.0.3 (kerasjs format: one protobuf, model.bin). Browser only: the bundle's WebGL2
// and HTTP paths assume a page, and its Node build reads files itself.
//
// Keras.js's Model downloads, decodes and builds in one call started by its constructor
// (_initialize: _dataRequestHTTP -> _decodeProtobuf, then _buildDAG and a first pass over the
// layers). To time the phases apart, a subclass skips the download (the harness already
// fetched the bytes): parse = the library's own protobuf decode (+ JSON.parse of the config),
// build = the rest of _initialize (layer objects, weight tensors, GPU textures and shader
// programs, the initial pass Keras.js makes before ready() resolves).
//
// Keras.js predicts one sample at a time (its input layer has the model's batch_input_shape
// without the batch): the adapter has predictOne, and common.js runs a batch sample by sample.
(function (register) {
  let requested = 'cpu'; // backend asked of setup; the Model takes it at construction

  function product(shape) {
    return shape.reduce((a, b) => a * b, 1);
  }

  // A Model whose constructor doesn't start the download; _initialize runs later, in build.
  const deferred = new WeakMap(); // library -> subclass
  function deferredModelClass(lib) {
    if (!deferred.has(lib)) {
      deferred.set(lib, class extends lib.Model {
        _initialize() { return Promise.resolve(false); }
        async _dataRequestHTTP() {} // the bytes were decoded in parse
      });
    }
    return deferred.get(lib);
  }

  // The weight shapes a layer's config implies (null: any size), for the layers the converter
  // writes; Keras.js itself would fail later with an unnamed ndarray shape error.
  function expectedShapes(cls, c) {
    if (cls === 'Dense') return { kernel: [null, c.units], bias: [c.units] };
    if (cls === 'Conv2D') {
      return { kernel: [...[].concat(c.kernel_size), null, c.filters], bias: [c.filters] };
    }
    if (cls === 'LSTM') {
      const gates = 4 * c.units;
      return { kernel: [null, gates], recurrent_kernel: [c.units, gates], bias: [gates] };
    }
    return {};
  }

  // Clear one-line errors for bytes the decoder accepts but Keras.js would misread or crash on.
  function checkDecoded(model) {
    const config = model.modelConfig;
    if (!config || config.class_name !== 'Sequential' || !Array.isArray(config.config)) {
      throw new Error('kerasjs: model_config is not a Keras.js Sequential topology');
    }
    const byName = new Map(model.modelWeights.map((w) => [w.weightName, w]));
    for (const w of model.modelWeights) {
      const need = 4 * product(w.shape);
      if (w.type !== 'float32' || w.data.byteLength !== need) {
        throw new Error('kerasjs: weight ' + w.weightName + ' (' + w.type + ', shape [' + w.shape
          + ']) has ' + w.data.byteLength + ' bytes, float32 needs ' + need);
      }
    }
    for (const layer of config.config) {
      const name = layer.config && layer.config.name;
      for (const [param, want] of Object.entries(expectedShapes(layer.class_name, layer.config || {}))) {
        const w = byName.get(name + '/' + param + ':0');
        if (!w) {
          if (param === 'bias' && layer.config.use_bias === false) continue;
          throw new Error('kerasjs: layer ' + name + ' has no weight ' + param);
        }
        const fits = w.shape.length === want.length
          && want.every((d, i) => d === null || d === w.shape[i]);
        if (!fits) {
          throw new Error('kerasjs: layer ' + name + ' ' + param + ' has shape [' + w.shape
            + '], its config implies [' + want.map((d) => (d === null ? '?' : d)) + ']');
        }
      }
    }
  }

  // Keras.js turns WebGL off (webgl2.isSupported = false) when a shader fails to compile, and
  // layers made after that run on the CPU: a run asked for 'gpu' must not be mixed silently.
  function checkBackend(model) {
    if (requested !== 'gpu' || !model.gpu) return;
    const cpu = [...model.modelLayersMap.values()].filter((l) => !l.gpu).map((l) => l.name);
    if (cpu.length) {
      throw new Error('kerasjs: WebGL2 failed for layers ' + cpu.join(', ') + ' (they ran on the CPU)');
    }
  }

  register({
    name: 'kerasjs',
    node: null, // browser only (runtimes.py: in_node=False)
    browser: {
      global: 'KerasJS',
      scripts: ['/node_modules/keras-js/dist/keras.min.js'],
    },

    async setup(lib, backend) {
      if (backend !== 'cpu' && backend !== 'gpu') throw new Error('kerasjs has no backend ' + backend);
      requested = backend;
      // Keras.js silently runs on the CPU when WebGL2 isn't there: report what it will use.
      if (backend !== 'gpu' || !lib.GPU_SUPPORT) return 'cpu';
      // It renders into float32 textures but never checks the extension that allows it.
      const gl = document.createElement('canvas').getContext('webgl2');
      if (!gl || !gl.getExtension('EXT_color_buffer_float')) {
        throw new Error('kerasjs gpu: WebGL2 lacks EXT_color_buffer_float (float32 outputs)');
      }
      return 'gpu';
    },

    async parse(lib, files, manifest) {
      const Deferred = deferredModelClass(lib);
      const model = new Deferred({ filepath: manifest.entry, gpu: requested === 'gpu' });
      const bytes = new Uint8Array(files.get(manifest.entry));
      if (!bytes.length) throw new Error('kerasjs: ' + manifest.entry + ' is empty');
      try {
        model._decodeProtobuf(bytes);
      } catch (e) {
        const why = String(e.message || e).split('\n')[0];
        throw new Error('kerasjs: cannot decode ' + manifest.entry + ': ' + why);
      }
      checkDecoded(model);
      return model;
    },

    async build(lib, model) {
      // Keras.js's own _initialize, less the download: _buildDAG + the initialising pass.
      model._ready = lib.Model.prototype._initialize.call(model);
      try {
        await model.ready();
      } catch (e) {
        throw new Error('kerasjs: building the model failed: ' + String(e.message || e).split('\n')[0]);
      }
      checkBackend(model);
      return model;
    },

    async predictOne(lib, model, sample) {
      // its own copy of the sample; common.js copies the output at once (Keras.js reuses its
      // output tensors on the GPU)
      return (await model.predict({ input: sample.slice() })).output;
    },
  });
})(typeof module !== 'undefined' ? (a) => { module.exports = a; }
  : (a) => { (self.browserdlAdapters = self.browserdlAdapters || {})[a.name] = a; });
