// brain.js 1.6.1 NeuralNetwork written as toJSON() JSON (format `brainjs`). Same face as tfjs.js,
// per sample. Parse is JSON.parse; build is the library's own NeuralNetwork.fromJSON; predictOne
// is net.run. Where manifest.outputs is "signed-pairs", the output layer holds +z then -z
// (brain.js applies relu to the output too): common.js recovers z = y[i] - y[n+i], then softmax
// for "signed-pairs-softmax" (brain.js has no softmax).
(function (register) {
  function fail(what, e) {
    return new Error(what + ': ' + String((e && e.message) || e).split('\n')[0]);
  }

  register({
    name: 'brainjs',
    node: { module: 'brain.js' },
    browser: { global: 'brain', scripts: ['/node_modules/brain.js/browser.min.js'] },

    async setup(lib, backend) {
      if (backend !== 'cpu') throw new Error('brainjs runs on cpu only, not ' + backend);
      return 'cpu';
    },

    async parse(lib, files, manifest) {
      return browserdlReadJSON(files, manifest);
    },

    async build(lib, json) {
      try {
        return new lib.NeuralNetwork().fromJSON(json);
      } catch (e) {
        throw fail('brain.js NeuralNetwork.fromJSON rejected the file', e);
      }
    },

    inputSize(lib, net) {
      return net.sizes[0];
    },

    predictOne(lib, net, sample) {
      const y = net.run(sample);
      if (!y) throw new Error('brain.js could not run the net (not initialised from the file)');
      return y;
    },

    // brain.js fits its outputs by squared error, updating after every sample. With signed pairs
    // the targets are [y, 1 − y]: z → +1 for the true class, −1 for the others (argmax kept).
    train: {
      updates: 'per sample: 64 updates per batch (NeuralNetwork.train, 1 iteration, momentum 1e-9)',
      async start(lib, net, opts) {
        const pairs = (opts.outputs || '').startsWith('signed-pairs'); // the manifest's transform
        return {
          net, pairs,
          objective: 'mean squared error' + (pairs ? ' of relu(±z) against [y, 1 − y]' : ''),
          // brain.js refuses momentum 0 (its check is 0 < momentum < 1): 1e-9 is plain SGD
          options: { iterations: 1, errorThresh: 1e-9, learningRate: opts.learningRate,
            momentum: 1e-9, log: false },
        };
      },
      async batch(lib, t, x, y, shape) {
        return browserdlSamples(x, y, shape[0],
          (target) => (t.pairs ? target.concat(target.map((v) => 1 - v)) : target));
      },
      async step(lib, t, samples) {
        return t.net.train(samples, t.options).error; // each sample's error before its update
      },
      async evaluate(lib, t, samples) {
        let sum = 0;
        for (const { input, output } of samples) {
          const y = t.net.run(input);
          let squares = 0;
          for (let j = 0; j < output.length; j++) squares += (output[j] - y[j]) ** 2;
          sum += squares / output.length;
        }
        return sum / samples.length;
      },
    },
  });
})(typeof module !== 'undefined' ? (a) => { module.exports = a; }
  : (a) => { (self.browserdlAdapters = self.browserdlAdapters || {})[a.name] = a; });
