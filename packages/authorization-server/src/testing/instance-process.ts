/**
 * Starting `testing/instance.ts` as a child process and stopping it: real, separate server processes
 * (their own event loops, connection pools and memory) for multi-instance tests.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const INSTANCE_SCRIPT = fileURLToPath(new URL('./instance.ts', import.meta.url));

export interface InstanceProcess {
  /** Where it listens, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Everything it printed so far (its JSON log lines when logging is on). */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then waits for a clean exit; @returns its exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash: nothing is closed or flushed by the process), then waits until it is gone; @returns the signal. */
  kill(): Promise<NodeJS.Signals | null>;
}

/**
 * Starts an instance with `env` on top of this process's environment minus GATEHOUSE_*, DATABASE_URL
 * and the test runner's own variables. @throws when it exits or stays silent for `timeoutMs` before listening.
 */
export async function startInstanceProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<InstanceProcess> {
  const base: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('GATEHOUSE_') && !name.startsWith('NODE_TEST') && name !== 'DATABASE_URL') base[name] = value;
  }
  const child = spawn(process.execPath, ['--no-warnings', INSTANCE_SCRIPT], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`instance did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    const check = () => {
      const match = /^gatehouse-instance listening (\S+)$/m.exec(stdout);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`instance exited (${code}) before listening: ${stderr}`));
    });
  });
  return {
    url,
    stdout: () => stdout,
    stderr: () => stderr,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      return child.signalCode;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // A clean close takes well under a second; never let a stuck one outlive the test.
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(kill);
      }
    },
  };
}
