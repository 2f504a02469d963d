// A small app written for genai-electron 0.26.0, against its documented API only. It switches
// to genai-electron-rs by one line in package.json ("genai-electron": "npm:genai-electron-rs@…"),
// and type-checks (tsc --strict) against both packages' typings (examples/tsconfig*.json).
//
// It walks the whole life of a local AI app and prints one JSON line per step:
// detect → download → error → llm-start → chat → diffusion-start → image → reload → logs → stop.
//
//   node consumer.mjs <llm-url> <image-model-url>
//   (or GENAI_EXAMPLE_LLM_URL / GENAI_EXAMPLE_IMAGE_URL)
//
// In Electron, run this from the main process (see electron-main.ts); in plain Node the data
// folder is $GENAI_ELECTRON_USER_DATA (genai-electron-rs only: upstream needs Electron).
import {
  diffusionServer,
  GenaiElectronError,
  llamaServer,
  ModelNotFoundError,
  modelManager,
  systemInfo,
} from 'genai-electron';
import type { ImageGenerationStage, ModelInfo } from 'genai-electron';

const LLM_URL = process.argv[2] ?? process.env.GENAI_EXAMPLE_LLM_URL;
const IMAGE_URL = process.argv[3] ?? process.env.GENAI_EXAMPLE_IMAGE_URL;

/** One line per step, for a human and for the test that runs this. */
function report(step: string, data: Record<string, unknown>): void {
  console.log(JSON.stringify({ step, ...data }));
}

/** A model of this name already in the data folder, else downloaded (with progress). */
async function ensureModel(url: string, name: string, type: 'llm' | 'diffusion'): Promise<ModelInfo> {
  const existing = (await modelManager.listModels(type)).find((m) => m.name === name);
  if (existing) return existing;
  let progressCalls = 0;
  let lastPercentage = 0;
  const model = await modelManager.downloadModel({
    source: 'url',
    url,
    name,
    type,
    onProgress: (downloaded, total) => {
      progressCalls += 1;
      lastPercentage = total > 0 ? Math.round((downloaded / total) * 100) : 0;
    },
  });
  report('download', { id: model.id, type: model.type, size: model.size, progressCalls, lastPercentage });
  return model;
}

/** One real chat turn against llama-server's OpenAI-compatible API. */
async function chat(port: number, text: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: text }], max_tokens: 8 }),
  });
  if (!response.ok) throw new Error(`chat: HTTP ${response.status}`);
  const body = (await response.json()) as { choices: { message: { content: string } }[] };
  return body.choices[0]?.message.content ?? '';
}

async function main(): Promise<void> {
  if (!LLM_URL || !IMAGE_URL) throw new Error('usage: consumer <llm-url> <image-model-url>');

  // 1. What can this machine run?
  const caps = await systemInfo.detect();
  report('detect', {
    cores: caps.cpu.cores,
    totalRAM: caps.memory.total,
    gpu: caps.gpu.available,
    maxModelSize: caps.recommendations.maxModelSize,
  });

  // 2. Models: an LLM and an image model, downloaded once.
  await modelManager.initialize();
  const llm = await ensureModel(LLM_URL, 'SmolLM2 135M', 'llm');
  const imageModel = await ensureModel(IMAGE_URL, 'SDXS test', 'diffusion');
  const fit = await systemInfo.canRunModel(llm);
  report('models', { llm: llm.id, image: imageModel.id, canRun: fit.possible, all: (await modelManager.listModels()).length });

  // 3. Errors are classes: a wrong id is a ModelNotFoundError (and a GenaiElectronError).
  try {
    await modelManager.getModelInfo('no-such-model');
    report('error', { thrown: false });
  } catch (error) {
    if (!(error instanceof ModelNotFoundError)) throw error;
    report('error', {
      thrown: true,
      name: error.name,
      code: error.code,
      isGenaiError: error instanceof GenaiElectronError,
    });
  }

  // 4. The LLM: llama-server on a free port of 127.0.0.1.
  const started = await llamaServer.start({ modelId: llm.id, port: 'auto', threads: 2, contextSize: 2048 });
  report('llm-start', { status: started.status, port: started.port, pid: started.pid, healthy: await llamaServer.isHealthy() });

  // 5. Chat.
  const reply = await chat(started.port, 'Say hello.');
  report('chat', { replied: reply.length > 0 });

  // 6. Images: the diffusion server (the backend starts with the first image).
  const imageServer = await diffusionServer.start({ modelId: imageModel.id, port: 'auto', threads: 2 });
  const orchestrator = diffusionServer.getOrchestrator();
  const needsOffload = (await orchestrator?.wouldNeedOffload()) ?? false;
  report('diffusion-start', { status: imageServer.status, port: imageServer.port, needsOffload });

  // 7. One image with progress. When both models do not fit, the orchestrator stops the LLM
  // for the image and starts it again afterwards, with the same configuration.
  const stages: ImageGenerationStage[] = [];
  let llmRunningDuringDiffusion: boolean | undefined;
  let lastPercentage = 0;
  const image = await diffusionServer.generateImage({
    prompt: 'a lighthouse at dusk',
    width: 64,
    height: 64,
    steps: 2,
    seed: 42,
    onProgress: (_step, _steps, stage, percentage) => {
      if (stages.at(-1) !== stage) stages.push(stage);
      if (stage === 'diffusion' && llmRunningDuringDiffusion === undefined) llmRunningDuringDiffusion = llamaServer.isRunning();
      lastPercentage = percentage ?? lastPercentage;
    },
  });
  const png = image.image.subarray(1, 4).toString('latin1') === 'PNG';
  report('image', { width: image.width, height: image.height, seed: image.seed, png, stages, lastPercentage, llmRunningDuringDiffusion });

  // 8. The LLM is back (same port) and answers again.
  await orchestrator?.waitForReload();
  const back = llamaServer.getInfo();
  const replyAfter = await chat(back.port, 'And again?');
  report('reload', { running: llamaServer.isRunning(), samePort: back.port === started.port, newPid: back.pid !== started.pid, replied: replyAfter.length > 0 });

  // 9. Logs of both servers.
  const llamaLogs = await llamaServer.getLogs(50);
  const diffusionLogs = await diffusionServer.getLogs(50);
  report('logs', { llama: llamaLogs.length, diffusion: diffusionLogs.length });

  // 10. Stop.
  await llamaServer.stop();
  await diffusionServer.stop();
  report('stop', { llama: llamaServer.getStatus(), diffusion: diffusionServer.getStatus() });
}

try {
  await main();
} catch (error) {
  // Anything genai-electron throws is a GenaiElectronError with a code and details.
  if (error instanceof GenaiElectronError) {
    report('failed', { name: error.name, code: error.code, message: error.message, details: error.details });
  } else {
    report('failed', { name: 'Error', message: error instanceof Error ? error.message : String(error) });
  }
  process.exitCode = 1;
} finally {
  await Promise.allSettled([llamaServer.stop(), diffusionServer.stop()]);
}
