// The few parts of Electron's typings that electron-main.ts uses, so that it type-checks without
// electron installed (it is not a dependency of this package). In an app, `npm i -D electron`
// brings the real ones and this file goes away.
declare module 'electron' {
  export interface App {
    whenReady(): Promise<void>;
    getPath(name: 'userData' | 'temp' | 'logs'): string;
    getAppPath(): string;
    isPackaged: boolean;
    on(event: 'before-quit', listener: (event: { preventDefault(): void }) => void): this;
    on(event: 'window-all-closed', listener: () => void): this;
    quit(): void;
    exit(exitCode?: number): void;
  }
  export const app: App;
  export interface IpcMainInvokeEvent {
    sender: unknown;
  }
  export const ipcMain: {
    handle(channel: string, listener: (event: IpcMainInvokeEvent, ...args: any[]) => unknown): void;
  };
}
