// `genai-electron-rs generate`: the CLI on the real sd-server and the real test model, in a child
// process as a user runs it (a model file registered on first use, PNG files out, the stage shown).
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, runNodeAsync, tempDir } from './helpers.mjs';
import { SD_SERVER, SD_MODEL, pngSize } from './support/diffusion.mjs';

const CLI = path.join(ROOT, 'bin', 'genai-electron-rs.js');

test('generate: a model file, two images with -o out.png --count 2, progress with the stage', async () => {
  const dir = tempDir('genai-cli-gen-');
  const out = path.join(dir, 'out.png');
  const r = await runNodeAsync([CLI, 'generate', 'a lighthouse', '--model', SD_MODEL, '-o', out, '-W', '64', '-H', '64', '--steps', '1', '--seed', '-1', '--count', '2', '--threads', '2'], {
    env: { GENAI_ELECTRON_USER_DATA: dir, GENAI_SD_SERVER_PATH: SD_SERVER },
  });
  expect(r.stderr).toMatch(/^\s*\d+% loading/m); // not a TTY: one line per stage
  expect(r.stderr).toMatch(/^\s*\d+% diffusion/m);
  expect(r.stderr).toMatch(/^100% decoding/m);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^Registered .+sdxs-random\.gguf as sdxs-random$/m);
  expect(existsSync(out)).toBe(false);
  for (const file of [path.join(dir, 'out-1.png'), path.join(dir, 'out-2.png')]) {
    expect(pngSize(readFileSync(file))).toEqual({ width: 64, height: 64 });
    expect(r.stdout).toContain(`${file}: 64x64, seed `);
  }
  // Registered once: a second run by id finds it.
  const again = await runNodeAsync([CLI, 'generate', 'a lighthouse', '--model', 'sdxs-random', '-o', out, '-W', '64', '-H', '64', '--steps', '1', '--seed', '5'], {
    env: { GENAI_ELECTRON_USER_DATA: dir, GENAI_SD_SERVER_PATH: SD_SERVER },
  });
  expect(again.status).toBe(0);
  expect(again.stdout).not.toMatch(/Registered/);
  expect(again.stdout).toContain(`${out}: 64x64, seed 5,`);
}, 120000);

test('generate: bad input is a usage error or a typed error, exit codes 2 and 1', async () => {
  const dir = tempDir('genai-cli-gen-bad-');
  const env = { GENAI_ELECTRON_USER_DATA: dir, GENAI_SD_SERVER_PATH: SD_SERVER };
  const noOut = await runNodeAsync([CLI, 'generate', 'x', '--model', SD_MODEL], { env });
  expect(noOut.status).toBe(2);
  expect(noOut.stderr).toMatch(/^generate needs -o <out\.png>/);
  const zero = await runNodeAsync([CLI, 'generate', 'x', '--model', SD_MODEL, '-o', path.join(dir, 'x.png'), '--count', '0'], { env });
  expect(zero.status).toBe(2);
  expect(zero.stderr).toMatch(/^--count must be a whole number from 1 to 5/);
  const unknown = await runNodeAsync([CLI, 'generate', 'x', '--model', 'nope', '-o', path.join(dir, 'x.png')], { env });
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toMatch(/Model not found: nope/);
  const wide = await runNodeAsync([CLI, 'generate', 'x', '--model', SD_MODEL, '-o', path.join(dir, 'x.png'), '-W', '4096'], { env });
  expect(wide.status).toBe(1);
  expect(wide.stderr).toMatch(/width/);
  expect(existsSync(path.join(dir, 'x.png'))).toBe(false);
}, 120000);
