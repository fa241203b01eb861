/**
 * A child process running one role of bench/servers.ts, driven over IPC (structured clone, so large
 * pools of codes and tokens travel cheaply). Its output goes to a log file shown when it fails.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Role, RoleArguments } from './servers.ts';

const SERVERS = fileURLToPath(new URL('./servers.ts', import.meta.url));

export interface Usage {
  cpuMicros: number;
  maxRssKiB: number;
  hwmKiB: number;
  rssKiB: number;
}

export class ServerProcess {
  readonly role: Role;
  readonly url: string;
  readonly logPath: string;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private exited = false;

  private constructor(role: Role, child: ChildProcess, url: string, logPath: string) {
    this.role = role;
    this.child = child;
    this.url = url;
    this.logPath = logPath;
    child.on('message', (message: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${role}: ${message.error}`));
    });
    child.on('exit', (code) => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${role} exited (${code}); log: ${this.log()}`));
      this.pending.clear();
    });
  }

  static async start(role: Role, args: RoleArguments, logPath: string): Promise<ServerProcess> {
    const log = openSync(logPath, 'a');
    const child = fork(SERVERS, [role, JSON.stringify(args)], {
      serialization: 'advanced',
      stdio: ['ignore', log, log, 'ipc'],
      execArgv: [],
      env: { ...process.env, NODE_ENV: 'production' },
    });
    closeSync(log);
    const url = await new Promise<string>((resolve, reject) => {
      const onMessage = (message: { ready?: boolean; url?: string }) => {
        if (message.ready) {
          child.off('exit', onExit);
          resolve(message.url ?? '');
        }
      };
      const onExit = (code: number | null) => reject(new Error(`${role} failed to start (exit ${code}): ${readLog(logPath)}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    return new ServerProcess(role, child, url, logPath);
  }

  call<T = unknown>(command: string, args?: unknown): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.role} is not running; log: ${this.log()}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, command, args });
    });
  }

  usage(): Promise<Usage> {
    return this.call<Usage>('usage');
  }

  get pid(): number {
    return this.child.pid!;
  }

  log(): string {
    return readLog(this.logPath);
  }

  /** The whole log file. */
  fullLog(): string {
    return readFileSync(this.logPath, 'utf8');
  }

  /** Asks the process to close its server and storage and exit; kills it (by its pid) if it does not. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.call('shutdown').catch(() => {});
    const timeout = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timeout);
  }
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-4000);
  } catch {
    return '(no log)';
  }
}
