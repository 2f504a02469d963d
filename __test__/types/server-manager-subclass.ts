// A server manager written against genai-electron 0.26.0's typings, as its docs and its own
// managers subclass ServerManager: only the abstract start()/stop() are implemented; the state
// lives in the protected fields and helpers. It must compile against this package's typings
// (the import below is the only change from one written for genai-electron).
import { ServerManager, type ServerConfig, type ServerInfo } from '../../index.js';

const VALID = new Set(['modelId', 'port']);

export class EchoServerManager extends ServerManager {
  async start(config: ServerConfig): Promise<ServerInfo> {
    this.validateConfigFields(config as unknown as Record<string, unknown>, VALID, 'echo');
    this.setStatus('starting');
    try {
      const port = typeof config.port === 'number' ? config.port : 0;
      await this.checkPortAvailability(port, 500);
      await this.initializeLogManager('echo.log', `starting ${config.modelId}`);
      this._config = config;
      this._port = port;
      this._pid = process.pid;
      this._startedAt = new Date();
      this.setStatus('running');
      this.emitEvent('started', this.getInfo());
      return this.getInfo();
    } catch (error) {
      return this.handleStartupError('echo', error);
    }
  }

  async stop(): Promise<void> {
    this.setStatus('stopping');
    this._pid = undefined;
    await this.logManager?.write('stopped', 'info');
    this.setStatus('stopped');
    this.emitEvent('stopped');
  }
}

// The concrete members upstream's subclasses inherit.
const echo = new EchoServerManager();
const info: ServerInfo = echo.getInfo();
const config: ServerConfig | undefined = echo.getConfig();
const logPath: string | undefined = echo.getLogPath();
void [info, config, logPath, echo.restart(), echo.getLogs(10), echo.isRunning()];
