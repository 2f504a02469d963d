// `npm run bench`: every benchmark in turn (each writes its section of bench/RESULTS.md).
await import('./system.mjs');
await import('./download.mjs');
await import('./startup.mjs');
await import('./logs.mjs');
await import('./diffusion.mjs');
await import('./estimate.mjs');
await import('./reload.mjs');
await import('./binaries.js');
