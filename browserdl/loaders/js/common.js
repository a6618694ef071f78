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
})(globalThis);
