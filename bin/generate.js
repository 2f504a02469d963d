// `genai-electron-rs generate`: one or more images from a prompt with the diffusion server,
// a progress bar with the stage, PNG files out.
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { diffusionServer } from '../index.js';

export const GENERATE_USAGE = `  generate "<prompt>" --model <id | file.gguf> -o <out.png> [-W <px>] [-H <px>] [--steps <n>]
           [--seed <n>] [--count <1-5>] [--cfg <scale>] [--sampler <name>] [--threads <n>]
                                       Generates images with sd-server (count > 1: out-1.png, …)`;

/** A bar on a terminal; a line per stage change elsewhere (logs, CI). */
function progressPrinter(stream = process.stderr) {
  let lastStage;
  return (step, steps, stage, percentage = 0) => {
    const pct = Math.round(percentage);
    const detail = steps > 0 ? ` ${step}/${steps}` : '';
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${stage}${detail}\x1b[K`);
      if (pct >= 100) stream.write('\n');
    } else if (stage !== lastStage || pct >= 100) {
      stream.write(`${String(pct).padStart(3)}% ${stage}${detail}\n`);
    }
    lastStage = stage;
  };
}

/** `out.png` for one image, `out-1.png`, `out-2.png`, … for several. */
export function outputPaths(out, count) {
  if (count <= 1) return [out];
  const ext = path.extname(out) || '.png';
  const base = out.slice(0, out.length - path.extname(out).length);
  return Array.from({ length: count }, (_, i) => `${base}-${i + 1}${ext}`);
}

/**
 * @param {string[]} words the prompt (first bare word)
 * @param {Record<string, string | true>} flags parsed flags
 * @param {(target: string, type: 'llm' | 'diffusion') => Promise<string>} resolveModel
 * @param {(msg: string) => Error} usage
 */
export async function generate(words, flags, resolveModel, usage) {
  const prompt = words[0];
  if (!prompt) throw usage('generate needs a prompt');
  if (typeof flags.model !== 'string') throw usage('generate needs --model <id | file.gguf>');
  const out = flags.o ?? flags.output;
  if (typeof out !== 'string') throw usage('generate needs -o <out.png>');
  const num = (v) => (v === undefined ? undefined : Number(v));
  const count = num(flags.count) ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 5) throw usage('--count must be a whole number from 1 to 5');
  const request = {
    prompt,
    width: num(flags.W ?? flags.width),
    height: num(flags.H ?? flags.height),
    steps: num(flags.steps),
    seed: num(flags.seed),
    cfgScale: num(flags.cfg),
    sampler: flags.sampler,
    count: count > 1 ? count : undefined,
    onProgress: progressPrinter(),
  };
  for (const k of Object.keys(request)) if (request[k] === undefined) delete request[k];
  const config = { modelId: await resolveModel(flags.model, 'diffusion'), port: 'auto' };
  if (flags.threads !== undefined) config.threads = num(flags.threads);
  await diffusionServer.start(config);
  try {
    const images = count > 1 ? await diffusionServer.executeBatchGeneration(request) : [await diffusionServer.generateImage(request)];
    for (const [i, file] of outputPaths(out, images.length).entries()) {
      const img = images[i];
      writeFileSync(file, img.image);
      console.log(`${file}: ${img.width}x${img.height}, seed ${img.seed}, ${img.timeTaken} ms`);
    }
  } finally {
    await diffusionServer.stop();
  }
  return 0;
}
