'use strict';
// attachAppLifecycle: genai-electron 0.26.0's Electron quit handler. On every `before-quit` the
// quit is held back while the servers stop (LLM first, then the diffusion backend is released
// with reason 'shutdown' and the diffusion server stops), then the app exits with code 0 —
// whatever failed on the way (a failure is logged, as upstream does).

/** @param {any} server @param {string} label */
async function stopIfRunning(server, label) {
  if (server.getStatus() !== 'running') return;
  console.log(`[genai-electron] Stopping ${label}...`);
  await server.stop();
  console.log(`[genai-electron] ${label[0].toUpperCase()}${label.slice(1)} stopped`);
}

/**
 * @param {{ on(event: 'before-quit', listener: (event: { preventDefault(): void }) => void): unknown; exit(code?: number): void }} app
 * @param {{ llamaServer?: any; diffusionServer?: any }} managers
 */
function attachAppLifecycle(app, managers) {
  app.on('before-quit', async (event) => {
    event.preventDefault();
    try {
      if (managers.llamaServer) await stopIfRunning(managers.llamaServer, 'LLM server');
      if (managers.diffusionServer) {
        try {
          await managers.diffusionServer.releaseBackend({ reason: 'shutdown' });
        } catch (error) {
          console.error('[genai-electron] Error releasing diffusion backend:', error);
        }
        await stopIfRunning(managers.diffusionServer, 'diffusion server');
      }
    } catch (error) {
      console.error('[genai-electron] Error during server cleanup:', error);
    } finally {
      app.exit(0);
    }
  });
}

module.exports = { attachAppLifecycle };
