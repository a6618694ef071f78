// ConvNetJS 0.3.0 nets written as Net.toJSON() JSON (format `convnetjs`). Same face as tfjs.js.
// Parse is JSON.parse; build is the library's own Net.fromJSON; predictOne runs Net.forward on
// one sample (ConvNetJS has no batches), in float64 as the library computes.
(function (register) {
  function fail(what, e) {
    return new Error(what + ': ' + String((e && e.message) || e).split('\n')[0]);
  }

  const inputs = new WeakMap(); // net -> the one input Vol its samples are copied into

  register({
    name: 'convnetjs',
    node: { module: 'convnetjs' },
    // the minified build a page would ship (it defines the global `convnetjs`)
    browser: { global: 'convnetjs', scripts: ['/node_modules/convnetjs/build/convnet-min.js'] },

    async setup(lib, backend) {
      if (backend !== 'cpu') throw new Error('convnetjs runs on cpu only, not ' + backend);
      return 'cpu';
    },

    async parse(lib, files, manifest) {
      return browserdlReadJSON(files, manifest);
    },

    async build(lib, json) {
      const net = new lib.Net();
      try {
        net.fromJSON(json);
      } catch (e) {
        throw fail('ConvNetJS Net.fromJSON rejected the file', e);
      }
      // fromJSON's `var L` outlives its loop: an unknown layer_type silently re-reads the
      // previous layer object instead of failing, so say so here
      const i = net.layers.findIndex((layer, k) => k > 0 && layer === net.layers[k - 1]);
      if (i > 0) {
        throw new Error('ConvNetJS Net.fromJSON rejected the file: layer ' + i +
          ' has unknown layer_type ' + JSON.stringify(json.layers[i].layer_type));
      }
      return net;
    },

    inputSize(lib, net) {
      const first = net.layers[0];
      return first.out_sx * first.out_sy * first.out_depth;
    },

    predictOne(lib, net, sample) {
      let x = inputs.get(net);
      if (!x) {
        const first = net.layers[0];
        x = new lib.Vol(first.out_sx, first.out_sy, first.out_depth, 0.0);
        inputs.set(net, x);
      }
      x.w.set(sample);
      return net.forward(x, false).w; // the net's own buffer: common.js copies it at once
    },

    // ConvNetJS's Trainer accumulates each sample's gradient and updates once per batch_size
    // samples with their mean: true mini-batch SGD (momentum and decay set to 0).
    train: {
      updates: 'mini-batch: the mean gradient of 64 per-sample backward passes, one update',
      async start(lib, net, opts) {
        const last = net.layers[net.layers.length - 1];
        let objective = 'cross-entropy (softmax layer)';
        if (opts.loss === 'mean_squared_error') {
          if (last.layer_type === 'softmax') throw new Error('a softmax net cannot fit a squared error');
          if (last.layer_type !== 'regression') {
            // Training needs a loss layer last; a regression layer is the identity forward.
            net.layers.push(new lib.RegressionLayer({ in_sx: last.out_sx, in_sy: last.out_sy,
              in_depth: last.out_depth }));
          }
          objective = 'squared error ½Σ(y − t)² (regression layer)';
        } else if (last.layer_type !== 'softmax') {
          throw new Error('cross-entropy needs a softmax layer last, the net ends in ' + last.layer_type);
        }
        const trainer = new lib.Trainer(net, { method: 'sgd', learning_rate: opts.learningRate,
          batch_size: opts.batchSize, momentum: 0, l2_decay: 0 });
        return { net, trainer, objective, classes: opts.loss !== 'mean_squared_error' };
      },
      async batch(lib, t, x, y, shape) {
        const first = t.net.layers[0];
        const n = shape[0];
        const size = x.length / n;
        const width = y.length / n;
        const samples = [];
        for (let i = 0; i < n; i++) {
          const v = new lib.Vol(first.out_sx, first.out_sy, first.out_depth, 0.0);
          v.w.set(x.subarray(i * size, (i + 1) * size));
          const target = y.subarray(i * width, (i + 1) * width);
          samples.push([v, t.classes ? target.indexOf(1) : Array.from(target)]);
        }
        return samples;
      },
      async step(lib, t, samples) {
        let sum = 0;
        for (const [v, target] of samples) sum += t.trainer.train(v, target).cost_loss;
        return sum / samples.length;
      },
      async evaluate(lib, t, samples) {
        let sum = 0;
        const last = t.net.layers[t.net.layers.length - 1];
        for (const [v, target] of samples) {
          t.net.forward(v, false);
          sum += last.backward(target); // the loss layer's loss; parameter gradients untouched
        }
        return sum / samples.length;
      },
    },
  });
})(typeof module !== 'undefined' ? (a) => { module.exports = a; }
  : (a) => { (self.browserdlAdapters = self.browserdlAdapters || {})[a.name] = a; });
