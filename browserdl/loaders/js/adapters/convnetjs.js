// ConvNetJS 0.3.0 nets written as Net.toJSON() JSON (format `convnetjs`). Same face as tfjs.js.
// Parse is JSON.parse; build is the library's own Net.fromJSON; predict runs Net.forward one
// sample at a time (ConvNetJS has no batches), in float64 as the library computes.
(function (register) {
  function fail(what, e) {
    return new Error(what + ': ' + String((e && e.message) || e).split('\n')[0]);
  }

  register({
    name: 'convnetjs',
    node: { module: 'convnetjs' },
    // the minified build a page would ship (it defines the global `convnetjs`)
    browser: { global: 'convnetjs', scripts: ['/node_modules/convnetjs/build/convnet-min.js'] },
    backends: ['cpu'],

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

    async predict(lib, net, input, shape) {
      const first = net.layers[0];
      const size = first.out_sx * first.out_sy * first.out_depth;
      const n = shape[0];
      if (input.length !== n * size) {
        throw new Error('input has ' + input.length / n + ' values per sample, the net takes ' + size);
      }
      const x = new lib.Vol(first.out_sx, first.out_sy, first.out_depth, 0.0);
      let data = null;
      let width = 0;
      for (let i = 0; i < n; i++) {
        x.w.set(input.subarray(i * size, (i + 1) * size));
        const y = net.forward(x, false).w;
        if (!data) { width = y.length; data = new Float32Array(n * width); }
        data.set(y, i * width);
      }
      return { data, shape: [n, width] };
    },
  });
})(typeof module !== 'undefined' ? (a) => { module.exports = a; }
  : (a) => { (self.browserdlAdapters = self.browserdlAdapters || {})[a.name] = a; });
