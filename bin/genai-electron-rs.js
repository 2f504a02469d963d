#!/usr/bin/env node
// genai-electron-rs command line: `info` prints what this machine has and what it can run.
import path from 'node:path';
import { systemInfo, formatBytes, PATHS } from '../index.js';

const USAGE = `Usage: genai-electron-rs <command> [options]

Commands:
  info [--json]   System report: CPU, RAM, GPUs, recommendations, data folders

Environment:
  GENAI_ELECTRON_USER_DATA   where models, binaries and logs live (default: the OS data folder)`;

function printInfo(caps) {
  const { cpu, memory, gpu, recommendations: rec } = caps;
  const lines = [
    `Platform:        ${caps.platform} (${cpu.architecture})`,
    `CPU:             ${cpu.model}, ${cpu.cores} logical cores`,
    `RAM:             ${formatBytes(memory.total)} total, ${formatBytes(memory.available)} available`,
  ];
  const devices = gpu.devices ?? [];
  if (!gpu.available) lines.push('GPU:             none usable (CPU inference)');
  for (const [i, d] of devices.entries()) {
    const vram = d.vram ? `, ${formatBytes(d.vram)} VRAM` + (d.vramAvailable !== undefined ? ` (${formatBytes(d.vramAvailable)} free)` : '') : '';
    lines.push(`${i === 0 ? 'GPU:            ' : '                '} ${d.name} [${d.type}]${vram}`);
  }
  if (gpu.driverVersion) lines.push(`Driver:          ${gpu.driverVersion}${gpu.cudaVersion ? `, CUDA ${gpu.cudaVersion}` : ''}`);
  lines.push(
    `Recommended:     models up to ${rec.maxModelSize}, quantization ${rec.recommendedQuantization.join(' / ')}, ${rec.threads} threads` +
      (rec.gpuAcceleration ? ', GPU acceleration' : ''),
    `Data folder:     ${path.dirname(path.dirname(PATHS.models.llm))}`,
  );
  console.log(lines.join('\n'));
}

async function main(argv) {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  switch (command) {
    case 'info': {
      const caps = await systemInfo.detect();
      if (json) console.log(JSON.stringify({ ...caps, paths: PATHS }, null, 2));
      else printInfo(caps);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      console.error(`Unknown command: ${command}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err?.message ?? String(err));
    process.exit(1);
  },
);
