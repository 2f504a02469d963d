'use strict';
// The native binding with every function wrapped so that errors (thrown or rejected) come out
// as genai-electron's error classes.
const binding = require('../binding.cjs');
const { fromNative } = require('./errors.cjs');

function wrap(fn) {
  return (...args) => {
    let result;
    try {
      result = fn(...args);
    } catch (err) {
      throw fromNative(err);
    }
    if (result && typeof result.then === 'function') {
      return result.then(undefined, (err) => {
        throw fromNative(err);
      });
    }
    return result;
  };
}

module.exports = Object.fromEntries(
  Object.entries(binding).map(([name, value]) => [name, typeof value === 'function' ? wrap(value) : value]),
);
