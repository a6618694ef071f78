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
})(globalThis);
