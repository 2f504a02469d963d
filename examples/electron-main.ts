// genai-electron in an Electron main process: the same code runs on genai-electron-rs when
// package.json aliases the package:
//
//   "dependencies": { "genai-electron": "npm:genai-electron-rs@^0.1.0" }
//
// Packaging with electron-builder (package.json "build"): native code and programs cannot run
// from inside the ASAR archive, so unpack them:
//
//   "asarUnpack": [
//     "**/*.node",   // the addon: node_modules/genai-electron-rs-<platform>/genai-electron-rs.<platform>.node
//     "binaries/**"  // an offline bundle of llama-server / sd-server, if the app ships one (below)
//   ]
//
// Without a bundle nothing else is needed: on first start the servers download, verify, test and
// install llama.cpp and stable-diffusion.cpp into <userData>/binaries, outside the archive. To ship
// them instead (no download on the user's machine), make the bundle at build time with
// `npx genai-electron-rs binaries install --dir binaries --platform <os>-<arch>`, add "binaries/**"
// to "files", and point GENAI_BINARIES_DIR at its unpacked copy before the first start (below).
import path from 'node:path';
import { app, ipcMain } from 'electron';
import {
  attachAppLifecycle,
  diffusionServer,
  formatErrorForUI,
  llamaServer,
  modelManager,
  systemInfo,
} from 'genai-electron';

// Before quitting: stop the LLM, release the image backend, stop the image server, then exit.
// (genai-electron-rs also kills its children when the process dies any other way.)
attachAppLifecycle(app, { llamaServer, diffusionServer });

// An offline bundle inside the app: the unpacked copy (app.asar.unpacked/binaries), read-only.
if (app.isPackaged) {
  process.env.GENAI_BINARIES_DIR = path.join(app.getAppPath().replace('app.asar', 'app.asar.unpacked'), 'binaries');
}

app.on('window-all-closed', () => app.quit());

await app.whenReady();
// Models, binaries and logs live under app.getPath('userData'): models/, binaries/, logs/.
console.log('data folder:', app.getPath('userData'));

ipcMain.handle('system:detect', () => systemInfo.detect());
ipcMain.handle('models:list', () => modelManager.listModels());

ipcMain.handle('llm:start', async (_event, modelId: string) => {
  try {
    const info = await llamaServer.start({ modelId, port: 'auto' });
    return { ok: true, port: info.port };
  } catch (error) {
    // { code, title, message, remediation? } for a dialog, from any genai-electron error.
    return { ok: false, error: formatErrorForUI(error) };
  }
});

ipcMain.handle('image:generate', async (event, prompt: string) => {
  // Through the built-in orchestrator: the LLM is offloaded and reloaded if both do not fit.
  const result = await diffusionServer.generateImage({
    prompt,
    width: 512,
    height: 512,
    steps: 20,
    onProgress: (currentStep, totalSteps, stage, percentage) => {
      void event; // a real app forwards this to the renderer (event.sender.send(...))
      console.log(`${stage} ${currentStep}/${totalSteps} (${percentage ?? 0}%)`);
    },
  });
  return result.image.toString('base64');
});
