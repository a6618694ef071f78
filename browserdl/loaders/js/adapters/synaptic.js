// synaptic 1.1.4 networks (format `synaptic`): the JSON Network.toJSON() writes, one object per
// neuron and per connection. Same face as tfjs.js, per sample: setup / parse / build / predictOne.
// synaptic has no softmax: when manifest.outputs is 'softmax', common.js applies softmax to the
// raw IDENTITY outputs (argmax unchanged). CPU only; activate() runs one sample at a time.
(function (register) {
  register({
    name: 'synaptic',
    node: { module: 'synaptic' },
    browser: { global: 'synaptic', scripts: ['/node_modules/synaptic/dist/synaptic.js'] },

    async setup(lib, backend) {
      if (backend !== 'cpu') throw new Error('synaptic runs on the cpu only, not ' + backend);
      return 'cpu';
    },

    async parse(lib, files, manifest) {
      const json = browserdlReadJSON(files, manifest);
      if (!json || !Array.isArray(json.neurons) || !Array.isArray(json.connections)) {
        throw new Error(manifest.entry + ' has no neurons/connections arrays');
      }
      return json;
    },

    async build(lib, json) {
      // no checks of our own here: build times Network.fromJSON alone; a bad file surfaces as
      // its error, named
      let network;
      try {
        network = lib.Network.fromJSON(json);
      } catch (e) {
        throw new Error('Network.fromJSON rejected the file (' + e.message + ')');
      }
      return { network, inputs: network.inputs() };
    },

    inputSize(lib, model) {
      return model.inputs;
    },

    predictOne(lib, model, sample) {
      try {
        return model.network.activate(Array.from(sample));
      } catch (e) {
        // activate() compiles the file's numbers into JS source: a non-number fails here
        throw new Error('network.activate failed (' + e.message + ')');
      }
    },

    // synaptic back-propagates target − output after every sample: squared error on the
    // IDENTITY outputs, so a softmax model's logits are fitted to ±1 targets (argmax kept).
    train: {
      updates: 'per sample: 64 updates per batch (Trainer.train, 1 iteration)',
      async start(lib, model, opts) {
        const logits = opts.outputs === 'softmax'; // softmax applied after the IDENTITY outputs
        return {
          network: model.network, trainer: new lib.Trainer(model.network), logits,
          cost: lib.Trainer.cost.MSE, rate: opts.learningRate,
          objective: 'mean squared error' + (logits ? ' of the logits against 2y − 1' : ''),
        };
      },
      async batch(lib, t, x, y, shape) {
        return browserdlSamples(x, y, shape[0], (target) => (t.logits ? target.map((v) => 2 * v - 1) : target));
      },
      async step(lib, t, samples) {
        // `error` must be truthy for synaptic to take it: 1e-12 never stops the one iteration
        return t.trainer.train(samples, { rate: t.rate, iterations: 1, error: 1e-12, cost: t.cost }).error;
      },
      async evaluate(lib, t, samples) {
        let sum = 0;
        for (const { input, output } of samples) sum += t.cost(output, t.network.activate(input));
        return sum / samples.length;
      },
    },
  });
})(typeof module !== 'undefined' ? (a) => { module.exports = a; }
  : (a) => { (self.browserdlAdapters = self.browserdlAdapters || {})[a.name] = a; });
