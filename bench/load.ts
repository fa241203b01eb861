/**
 * The load side of the benchmark: a closed loop over `connections` keep-alive connections, each phase
 * bounded by a count and a time, operations of one or more requests with every response checked,
 * latency per operation, and the server's CPU time and peak RSS read from the server process itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { HttpConnection } from './http-client.ts';
import type { ServerProcess, Usage } from './server-process.ts';

/** A failed check: ends the operation as an error, with a short reason for the summary. */
export class Failure extends Error {}
/** The workload's pool is used up: the connection stops (the count bound). */
export class PoolExhausted extends Error {}

export interface Workload {
  system: string;
  work: string;
  requestsPerOp: number;
  /** One operation on one connection; throws Failure when a response is not what it must be. */
  run(connection: HttpConnection): Promise<void>;
}

export interface Limits {
  warmupSeconds: number;
  seconds: number;
  /** Count bound of the measured run (the workload's pool may end it sooner). */
  maxOps: number;
}

export interface Measurement {
  system: string;
  work: string;
  requestsPerOp: number;
  connections: number;
  ok: number;
  /** Operations of the measured window that failed a check (a refused request, a wrong answer). */
  errors: number;
  errorSummary: string;
  /** The same for the warm-up before the window (not in any other figure). */
  warmupOk: number;
  warmupErrors: number;
  warmupErrorSummary: string;
  seconds: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuMicrosPerOp: number;
  /** PostgreSQL's CPU per operation: the backends serving the server, and its background writers. */
  databaseCpuMicrosPerOp?: number;
  peakRssMiB: number;
  /** CPU used on this machine by everything else (not the server, the load generator or its database), in % of one core. */
  otherCpuPercent: number;
  endedBy: 'time' | 'count';
  /** Connections of the warm-up or the window given up (they could not reconnect) or cut off after the time was up. */
  lostConnections: number;
}

export const CONNECTIONS = 32;

class Recorder {
  ok = 0;
  failed = 0;
  readonly latencies: number[] = [];
  readonly failures = new Map<string, number>();
  lastCompletion = 0;
  closedAt = Infinity;

  succeed(startedAt: number): void {
    const now = performance.now();
    if (now > this.closedAt) return;
    this.ok++;
    this.lastCompletion = now;
    this.latencies.push(now - startedAt);
  }

  fail(why: string): void {
    if (performance.now() > this.closedAt) return;
    this.failed++;
    this.failures.set(why, (this.failures.get(why) ?? 0) + 1);
  }

  /** A failure counted even after the window closed (a connection given up, an operation cut off). */
  lose(why: string, count = 1): void {
    this.failed += count;
    this.failures.set(why, (this.failures.get(why) ?? 0) + count);
  }

  percentile(p: number): number {
    if (this.latencies.length === 0) return NaN;
    const sorted = Float64Array.from(this.latencies).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  }

  describeFailures(): string {
    return [...this.failures].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([why, count]) => `${count}× ${why}`).join('; ');
  }
}

/** A connection whose reconnection fails this many times in a row stops: its server is not accepting. */
const MAX_RECONNECT_FAILURES = 3;
/** Pause before retrying a failed reconnection, in milliseconds (no busy loop against a refusing port). */
const RECONNECT_PAUSE_MS = 200;
/**
 * How long operations still in flight when a phase's time is up may take to end, in seconds; then their
 * connections are closed (each request also has its own 30 s timeout, http-client.ts). Past that, and
 * a few seconds more, the phase fails instead of waiting for ever.
 */
const IN_FLIGHT_GRACE_SECONDS = 40;
const ABANDON_SECONDS = 5;

/**
 * Runs `workload` on `connections` connections until `seconds` pass (then `onTimeUp` runs at once, before
 * the operations in flight finish, which no longer count) or `maxOps` operations have started, or the
 * pool is used up. A connection that cannot reconnect MAX_RECONNECT_FAILURES times in a row stops (each
 * failure counted, and in `lostConnections`); operations still running IN_FLIGHT_GRACE_SECONDS after the
 * time is up are cut off, and any in flight at time-up whose connection fails counts in `lostConnections` too.
 * @throws Error when the connections cannot be opened, or when the loops do not end even after their
 *   connections were closed (a workload awaiting something other than its connection).
 */
async function drive(url: string, workload: Workload, connections: number, maxOps: number, seconds: number, recorder: Recorder, onTimeUp?: () => Promise<void>): Promise<{ endedByTime: boolean; lostConnections: number }> {
  const opened = await Promise.allSettled(Array.from({ length: connections }, () => HttpConnection.open(url)));
  const open = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const refused = opened.find((result) => result.status === 'rejected');
  if (refused) {
    for (const connection of open) connection.close();
    throw new Error(`${workload.system} / ${workload.work}: could open only ${open.length} of ${connections} connections to ${url} (${(refused.reason as Error).message})`);
  }
  let started = 0;
  let stopped = false;
  let endedByTime = false;
  let lostConnections = 0;
  let timeUp: Promise<void> = Promise.resolve();
  let running = open.length;
  // One timer at a time: the phase's time, then the grace for operations in flight, then the last wait.
  let watchdog: NodeJS.Timeout | undefined;
  const abandoned = new Promise<never>((_, reject) => {
    watchdog = setTimeout(() => {
      stopped = true;
      endedByTime = true;
      timeUp = onTimeUp ? onTimeUp() : Promise.resolve();
      // Awaited once the loops end; until then a failure (an IPC timeout) must not count as unhandled.
      timeUp.catch(() => {});
      watchdog = setTimeout(() => {
        // Still running long after the time was up: cut the connections (their requests reject, counted below).
        for (const connection of open) connection.close();
        watchdog = setTimeout(() => reject(new Error(`${workload.system} / ${workload.work}: ${running} of ${open.length} load loops did not end `
          + `${IN_FLIGHT_GRACE_SECONDS + ABANDON_SECONDS} s after the phase's ${seconds} s, even with their connections closed`)), ABANDON_SECONDS * 1000);
      }, IN_FLIGHT_GRACE_SECONDS * 1000);
    }, seconds * 1000);
  });
  abandoned.catch(() => {});
  const loops = Promise.all(open.map(async (connection) => {
    let reconnectFailures = 0;
    try {
      while (!stopped && started < maxOps) {
        started++;
        const startedAt = performance.now();
        try {
          await connection.ensureOpen();
          reconnectFailures = 0;
        } catch (error) {
          reconnectFailures++;
          if (reconnectFailures >= MAX_RECONNECT_FAILURES) {
            recorder.lose(`connection lost: ${reconnectFailures} reconnections failed (${(error as Error).message})`);
            lostConnections++;
            return;
          }
          recorder.fail(`reconnect: ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, RECONNECT_PAUSE_MS));
          continue;
        }
        try {
          await workload.run(connection);
          recorder.succeed(startedAt);
        } catch (error) {
          if (error instanceof PoolExhausted) return;
          const why = error instanceof Failure ? error.message : `${(error as Error).message ?? error}`;
          if (stopped && !(error instanceof Failure)) {
            // An operation in flight at time-up whose connection then failed (a request timeout, a reset, the
            // grace's close): outside the window, but the server stopped answering, so it counts.
            recorder.lose(`after the time was up: ${why}`);
            lostConnections++;
          } else {
            recorder.fail(why);
          }
        }
      }
    } finally {
      running--;
    }
  }));
  try {
    await Promise.race([loops, abandoned]);
  } finally {
    clearTimeout(watchdog);
    for (const connection of open) connection.close();
  }
  await timeUp;
  return { endedByTime, lostConnections };
}

/**
 * CPU time all processes of the machine have used so far (user, nice, system; /proc/stat, all cores), in
 * microseconds. Interrupt and softirq time is left out: loopback networking is accounted there, and it
 * belongs to no process.
 */
function machineBusyMicros(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0] = fields;
  return (user + nice + system) * 10_000; // USER_HZ = 100
}

/**
 * Waits, at most `maxSeconds`, until the machine is quiet: less than `threshold` of one core busy over a
 * one-second sample (another session's tests on a shared 2-core machine would distort every figure).
 * Returns the seconds waited.
 */
export async function waitUntilQuiet(maxSeconds: number, threshold = 0.25, onWait?: (busy: number) => void): Promise<number> {
  const started = performance.now();
  let told = false;
  for (;;) {
    const before = machineBusyMicros();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const busy = (machineBusyMicros() - before) / 1_000_000;
    const waited = (performance.now() - started) / 1000;
    if (busy < threshold || waited >= maxSeconds) return waited;
    if (!told) onWait?.(busy);
    told = true;
  }
}

/** CPU time (user + system) of processes by pid, in microseconds; processes that ended are left out. */
export function processCpuMicros(pids: number[]): Map<number, number> {
  const micros = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      micros.set(pid, (Number(fields[11]) + Number(fields[12])) * 10_000); // utime and stime (fields 14 and 15), USER_HZ = 100
    } catch {
      // ended meanwhile
    }
  }
  return micros;
}

/** CPU used between two snapshots by the processes alive at the second one (one that started meanwhile counts whole). */
function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, micros] of after) total += Math.max(0, micros - (before.get(pid) ?? 0));
  return total;
}

/** PostgreSQL's background processes (WAL writer, checkpointer, …): not backends, shared by whoever writes. */
export function postgresBackgroundPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (/walwriter|checkpointer|background writer|autovacuum|logical replication|stats/.test(command)) pids.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

/** Warms up, then measures one workload. */
export async function measure(
  server: ServerProcess,
  workload: Workload,
  limits: Limits,
  options: { profilePath?: string; databaseCpu?: () => Promise<Map<number, number>>; connections?: number } = {},
): Promise<Measurement> {
  const connections = options.connections ?? CONNECTIONS;
  const warm = new Recorder();
  let warmupLost = 0;
  if (limits.warmupSeconds > 0) {
    ({ lostConnections: warmupLost } = await drive(server.url, workload, connections, Math.ceil(limits.maxOps / 4), limits.warmupSeconds, warm));
    if (warm.ok === 0) throw new Error(`${workload.system} / ${workload.work}: warm-up had no successful operation (${warm.describeFailures()})`);
  }

  const recorder = new Recorder();
  await server.call('reset-peak');
  if (options.profilePath) await server.call('profile-start');
  const noProcesses = new Map<number, number>();
  const database0 = options.databaseCpu ? await options.databaseCpu() : noProcesses;
  const usage0 = await server.usage();
  const machine0 = machineBusyMicros();
  const generator0 = process.cpuUsage();
  const startedAt = performance.now();
  let usage1: Usage | undefined;
  let database1 = noProcesses;
  let machine1 = 0;
  let generator1 = generator0;
  let endedAt = 0;
  const snapshot = async (at: number) => {
    endedAt = at;
    recorder.closedAt = at;
    machine1 = machineBusyMicros();
    generator1 = process.cpuUsage();
    usage1 = await server.usage();
    database1 = options.databaseCpu ? await options.databaseCpu() : noProcesses;
  };
  const { endedByTime, lostConnections } = await drive(server.url, workload, connections, limits.maxOps, limits.seconds, recorder, () => snapshot(performance.now()));
  if (!usage1) await snapshot(recorder.lastCompletion || performance.now());
  if (options.profilePath) await server.call('profile-stop', { path: options.profilePath });
  const after = await server.usage();
  const seconds = (endedAt - startedAt) / 1000;
  const serverMicros = usage1!.cpuMicros - usage0.cpuMicros;
  const generatorMicros = generator1.user + generator1.system - generator0.user - generator0.system;
  const databaseMicros = cpuBetween(database0, database1);
  const otherMicros = Math.max(0, machine1 - machine0 - serverMicros - generatorMicros - databaseMicros);
  return {
    system: workload.system,
    work: workload.work,
    requestsPerOp: workload.requestsPerOp,
    connections,
    ok: recorder.ok,
    errors: recorder.failed,
    errorSummary: recorder.describeFailures(),
    warmupOk: warm.ok,
    warmupErrors: warm.failed,
    warmupErrorSummary: warm.describeFailures(),
    seconds,
    opsPerSecond: recorder.ok / seconds,
    p50Ms: recorder.percentile(50),
    p99Ms: recorder.percentile(99),
    cpuMicrosPerOp: serverMicros / Math.max(1, recorder.ok),
    databaseCpuMicrosPerOp: options.databaseCpu ? databaseMicros / Math.max(1, recorder.ok) : undefined,
    peakRssMiB: (after.hwmKiB || after.maxRssKiB) / 1024,
    otherCpuPercent: (100 * otherMicros) / (seconds * 1_000_000),
    endedBy: endedByTime ? 'time' : 'count',
    lostConnections: warmupLost + lostConnections,
  };
}
