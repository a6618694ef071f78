// Helpers shared by the adapters, loaded before them: by pages/harness.html in the page and by
// node_run.js in Node.
(function (target) {
  // The format's entry file decoded as JSON, or one clear error naming the file.
  target.browserdlReadJSON = function (files, manifest) {
    const bytes = files.get(manifest.entry);
    if (!bytes) throw new Error(manifest.entry + ' is missing from the format folder');
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new Error(manifest.entry + ' is not valid JSON: ' + String(e.message).split('\n')[0]);
    }
  };

  // A batch as the per-sample JSON libraries train on: [{input: [...], output: [...]}], each
  // one-hot target passed through `target` (the library's own target encoding).
  target.browserdlSamples = function (x, y, n, targetOf) {
    const size = x.length / n;
    const width = y.length / n;
    const samples = [];
    for (let i = 0; i < n; i++) {
      samples.push({ input: Array.from(x.subarray(i * size, (i + 1) * size)),
        output: targetOf(Array.from(y.subarray(i * width, (i + 1) * width))) });
    }
    return samples;
  };

  // The output transforms of the manifest's `outputs` (converter/base.py OUTPUT_TRANSFORMS), on
  // one sample's raw outputs, in float64: what a file can't say, done here for every adapter.
  function softmax(y) {
    let max = -Infinity;
    for (let i = 0; i < y.length; i++) if (y[i] > max) max = y[i];
    const e = new Float64Array(y.length);
    let sum = 0;
    for (let i = 0; i < y.length; i++) { e[i] = Math.exp(y[i] - max); sum += e[i]; }
    for (let i = 0; i < y.length; i++) e[i] /= sum;
    return e;
  }
  // the output layer holds +z then -z (a relu output would clip z): relu(z) - relu(-z) = z
  function signedPairs(y) {
    const n = y.length / 2;
    const z = new Float64Array(n);
    for (let i = 0; i < n; i++) z[i] = y[i] - y[n + i];
    return z;
  }
  const TRANSFORMS = {
    raw: null,
    softmax,
    'signed-pairs': signedPairs,
    'signed-pairs-softmax': (y) => softmax(signedPairs(y)),
  };
  function transformOf(outputs) {
    const name = outputs || 'raw';
    if (!(name in TRANSFORMS)) throw new Error('unknown output transform ' + JSON.stringify(name));
    return TRANSFORMS[name];
  }

  // One batch through an adapter, then the manifest's output transform on each sample:
  //   {data: Float32Array, shape}. An adapter either runs whole batches (`predict`) or, for a
  // library without batches, one sample at a time: `predictOne(lib, model, sample)` gives that
  // sample's outputs (copied at once: a library may reuse its buffer), and `inputSize(lib,
  // model)`, when the adapter has it, the values per sample the model takes (checked once).
  target.browserdlPredict = async function (adapter, lib, model, input, shape, outputs) {
    const transform = transformOf(outputs);
    const n = shape[0];
    if (adapter.predict) {
      const out = await adapter.predict(lib, model, input, shape);
      if (!transform) return out;
      const width = out.data.length / n;
      let data = null;
      for (let i = 0; i < n; i++) {
        const y = transform(out.data.subarray(i * width, (i + 1) * width));
        if (!data) data = new Float32Array(n * y.length);
        data.set(y, i * y.length);
      }
      return { data, shape: [n, data.length / n] };
    }
    const size = adapter.inputSize ? adapter.inputSize(lib, model) : input.length / n;
    if (input.length !== n * size) {
      throw new Error('input has ' + input.length / n + ' values per sample, the model takes ' + size);
    }
    let data = null;
    let width = 0;
    for (let i = 0; i < n; i++) {
      let y = adapter.predictOne(lib, model, input.subarray(i * size, (i + 1) * size));
      if (y && typeof y.then === 'function') y = await y; // no extra tick for synchronous libraries
      if (transform) y = transform(y);
      if (!data) { width = y.length; data = new Float32Array(n * width); }
      data.set(y, i * width);
    }
    return { data, shape: [n, width] };
  };
})(globalThis);
