// Mind ("node-mind" 1.0.1, github.com/stevenmiller888/mind) — format `mind`: the JSON of
// mind.download(), an array of node-matrix weight matrices. Same face as tfjs.js.
// Mind is not on the npm registry: the library is always the user's file (`--lib mind=PATH`:
// require(PATH) in Node must give the Mind class; in a page, a bundle defining global `Mind`).
// The file records neither depth nor activator: hiddenLayers = matrices - 1, activator htan.
(function (register) {
  function mindClass(lib) {
    const Mind = typeof lib === 'function' ? lib : lib && (lib.Mind || lib.default);
    if (typeof Mind !== 'function') throw new Error('the library given does not export the Mind class');
    return Mind;
  }

  register({
    name: 'mind',
    node: { module: 'node-mind' },
    browser: { global: 'Mind', scripts: [] }, // only a user-supplied libraryUrl

    async setup(lib, backend) {
      if (backend !== 'cpu') throw new Error('Mind runs on the cpu only, not ' + backend);
      mindClass(lib);
      return 'cpu';
    },

    async parse(lib, files, manifest) {
      const weights = browserdlReadJSON(files, manifest);
      if (!Array.isArray(weights) || weights.length < 2) {
        throw new Error(manifest.entry + ' is not an array of at least two weight matrices');
      }
      return weights;
    },

    async build(lib, weights) {
      const Mind = mindClass(lib);
      const mind = new Mind({ activator: 'htan', hiddenLayers: weights.length - 1 }).upload(weights);
      return { mind, inputs: weights[0].numRows, outputs: weights[weights.length - 1].numCols };
    },

    inputSize(lib, model) {
      return model.inputs;
    },

    predictOne(lib, model, sample) {
      const out = model.mind.predict(Array.from(sample));
      if (out.length !== model.outputs) {
        throw new Error('Mind gave ' + out.length + ' outputs, its last matrix has ' + model.outputs);
      }
      return out;
    },

    // Mind.learn runs forward and back over all examples at once as matrices: one update per
    // batch with the summed (not averaged) gradient; with weights uploaded it keeps them.
    train: {
      updates: 'full batch: one update with the summed gradient (Mind.learn, 1 iteration)',
      async start(lib, model, opts) {
        const t = { mind: model.mind, objective: 'mean squared error (htan outputs)', errors: null };
        t.mind.learningRate = opts.learningRate;
        t.mind.iterations = 1;
        t.mind.on('data', (i, errors) => { t.errors = errors; }); // target − output, before the update
        return t;
      },
      async batch(lib, t, x, y, shape) {
        return browserdlSamples(x, y, shape[0], (target) => target);
      },
      async step(lib, t, samples) {
        t.mind.learn(samples);
        let sum = 0;
        for (let i = 0; i < t.errors.numRows; i++) {
          for (let j = 0; j < t.errors.numCols; j++) sum += t.errors[i][j] ** 2;
        }
        return sum / (t.errors.numRows * t.errors.numCols);
      },
      async evaluate(lib, t, samples) {
        let sum = 0;
        for (const { input, output } of samples) {
          const y = t.mind.predict(input);
          for (let j = 0; j < output.length; j++) sum += (output[j] - y[j]) ** 2;
        }
        return sum / (samples.length * samples[0].output.length);
      },
    },
  });
})(typeof module !== 'undefined' ? (a) => { module.exports = a; }
  : (a) => { (self.browserdlAdapters = self.browserdlAdapters || {})[a.name] = a; });
