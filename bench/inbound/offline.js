// Benchmark helper, never part of the product: npm inbound with nothing leaving the
// machine. Its yahoo matchers call tldextract, which fetches the public suffix list over
// the network the first time; `request` is stubbed to fail, so tldextract reads its
// bundled snapshot instead. bench.js and filter.js load inbound through here.
'use strict';

const Module = require('module');

const origLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'request') {
    return (_url, cb) => setImmediate(() => cb(new Error('network disabled for the benchmark')));
  }
  return origLoad.apply(this, arguments);
};

module.exports = require('inbound');
