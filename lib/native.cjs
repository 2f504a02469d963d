'use strict';
// The native binding with every function and class method wrapped so that errors (thrown or
// rejected) come out as genai-electron's error classes.
const binding = require('../binding.cjs');
const { fromNative } = require('./errors.cjs');

function call(fn, self, args) {
  let result;
  try {
    result = fn.apply(self, args);
  } catch (err) {
    throw fromNative(err);
  }
  if (result && typeof result.then === 'function') {
    return result.then(undefined, (err) => {
      throw fromNative(err);
    });
  }
  return result;
}

const isClass = (value) => typeof value === 'function' && /^[A-Z]/.test(value.name) && value.prototype
  && Object.getOwnPropertyNames(value.prototype).length > 1;

function wrapClass(Native) {
  const Wrapped = class extends Native {};
  for (const name of Object.getOwnPropertyNames(Native.prototype)) {
    const d = Object.getOwnPropertyDescriptor(Native.prototype, name);
    if (name === 'constructor' || typeof d.value !== 'function') continue;
    Object.defineProperty(Wrapped.prototype, name, {
      ...d,
      value(...args) {
        return call(d.value, this, args);
      },
    });
  }
  return Wrapped;
}

module.exports = Object.fromEntries(
  Object.entries(binding).map(([name, value]) => {
    if (isClass(value)) return [name, wrapClass(value)];
    return [name, typeof value === 'function' ? (...args) => call(value, undefined, args) : value];
  }),
);
