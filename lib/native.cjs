'use strict';
// The native binding with every function and class method wrapped so that errors (thrown or
// rejected) come out as genai-electron's error classes.
const binding = require('../binding.cjs');
const { fromNative } = require('./errors.cjs');

/** The binding's classes (each `#[napi] pub struct` with a constructor). Named here, not guessed:
 * a class missing from this list is wrapped as a function and fails loudly at `new`. */
const CLASSES = ['NativeLogFile', 'NativeCancelToken', 'NativeLlamaRunner', 'NativeModelManager', 'NativeDownloader', 'NativeLlamaServer', 'NativeDiffusionServer', 'NativeGenerationRegistry', 'NativeOrchestrator'];

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

function wrapClass(Native) {
  const Wrapped = class extends Native {
    constructor(...args) {
      try {
        super(...args);
      } catch (err) {
        throw fromNative(err);
      }
    }
  };
  Object.defineProperty(Wrapped, 'name', { value: Native.name });
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

for (const name of CLASSES) {
  if (typeof binding[name] !== 'function') throw new Error(`the native binding has no class ${name}`);
}

// Same names and signatures as the binding (so `tsc` checks the facade against binding.d.cts).
/** @type {typeof binding} */
module.exports = /** @type {any} */ (Object.fromEntries(
  Object.entries(binding).map(([name, value]) => {
    if (CLASSES.includes(name)) return [name, wrapClass(value)];
    return [name, typeof value === 'function' ? (...args) => call(value, undefined, args) : value];
  }),
));
