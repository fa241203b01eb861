/**
 * A child process running one role of bench/servers.ts, driven over IPC (structured clone, so large
 * pools of codes and tokens travel cheaply). Its output goes to a log file shown when it fails.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Role, RoleArguments } from './servers.ts';

const SERVERS = fileURLToPath(new URL('./servers.ts', import.meta.url));

/** How long a role may take to start and report ready, in milliseconds. */
const START_TIMEOUT_MS = 120_000;
/** How long a command may take, in milliseconds: seeding (a million grants on a slow day) is minutes, the rest instant. */
const COMMAND_TIMEOUT_MS: Record<string, number> = { prepare: 600_000, 'seed-codes': 600_000, 'seed-grants': 1_800_000, drop: 120_000 };
const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

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
  private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
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
      clearTimeout(waiter.timer);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${role}: ${message.error}`));
    });
    child.on('exit', (code) => {
      this.exited = true;
      for (const waiter of this.pending.values()) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`${role} exited (${code}); log: ${this.log()}`));
      }
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
      const done = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onMessage = (message: { ready?: boolean; url?: string }) => {
        if (!message.ready) return;
        done();
        resolve(message.url ?? '');
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`${role} failed to start (exit ${code}): ${readLog(logPath)}`));
      };
      const timer = setTimeout(() => {
        done();
        child.kill('SIGKILL');
        reject(new Error(`${role} (pid ${child.pid}) did not report ready within ${START_TIMEOUT_MS / 1000} s (killed); log: ${readLog(logPath)}`));
      }, START_TIMEOUT_MS);
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    return new ServerProcess(role, child, url, logPath);
  }

  /**
   * Sends `command` and awaits its answer.
   * @throws Error (naming the role, its pid and the command) when the process has exited or exits meanwhile,
   *   answers with an error, or does not answer within the command's timeout (COMMAND_TIMEOUT_MS, default
   *   DEFAULT_COMMAND_TIMEOUT_MS; `timeoutMs` overrides it).
   */
  call<T = unknown>(command: string, args?: unknown, timeoutMs = COMMAND_TIMEOUT_MS[command] ?? DEFAULT_COMMAND_TIMEOUT_MS): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.role} is not running (command ${command}); log: ${this.log()}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.role} (pid ${this.pid}): no answer to IPC command "${command}" within ${timeoutMs / 1000} s; log: ${this.log()}`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ id, command, args }, (error) => {
        if (!error || !this.pending.delete(id)) return;
        clearTimeout(timer);
        reject(new Error(`${this.role} (pid ${this.pid}): could not send IPC command "${command}": ${error.message}`));
      });
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
