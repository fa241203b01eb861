import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs, { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LockTimeoutError } from '../errors.ts';
import { createFileLock, lockFileContent, removeIfStill } from './file.ts';

describe('file lock (processes on one host)', { timeout: 30_000 }, () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'gatehouse-lock-'));
  });
  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('excludes a second holder until the first releases, and leaves no file behind', async () => {
    const a = createFileLock({ directory });
    const b = createFileLock({ directory });
    const release = Promise.withResolvers<void>();
    const entered = Promise.withResolvers<void>();
    const order: string[] = [];
    const holder = a.withLock('k', async () => {
      order.push('a in');
      entered.resolve();
      await release.promise;
      order.push('a out');
    });
    await entered.promise;
    const waiter = b.withLock('k', async () => void order.push('b in'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['a in']);
    release.resolve();
    await Promise.all([holder, waiter]);
    assert.deepEqual(order, ['a in', 'a out', 'b in']);
    assert.deepEqual(readdirSync(directory), []);
  });

  it('takes over a lock whose holder process is gone', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(directory, `${createHash('sha256').update('k').digest('hex').slice(0, 32)}.lock`), lockFileContent(deadPid, 'someone'));
    assert.equal(await createFileLock({ directory, acquireTimeoutMilliseconds: 1000 }).withLock('k', async () => 'taken over'), 'taken over');
  });

  it('times out while a live holder keeps it', async () => {
    const release = Promise.withResolvers<void>();
    const entered = Promise.withResolvers<void>();
    const holder = createFileLock({ directory }).withLock('k', async () => {
      entered.resolve();
      await release.promise;
    });
    await entered.promise;
    await assert.rejects(createFileLock({ directory, acquireTimeoutMilliseconds: 30 }).withLock('k', async () => 'never'), LockTimeoutError);
    release.resolve();
    await holder;
  });

  it('a live holder renews its file, so a long refresh is not taken over as stale', async () => {
    const staleMilliseconds = 300;
    const order: string[] = [];
    const entered = Promise.withResolvers<void>();
    const path = join(directory, `${createHash('sha256').update('k').digest('hex').slice(0, 32)}.lock`);
    const holder = createFileLock({ directory, staleMilliseconds }).withLock('k', async () => {
      order.push('a in');
      entered.resolve();
      // Hold for more than staleMilliseconds: until the file was renewed 4 times (a renewal every 100 ms),
      // or until the waiter got in (then the lock was taken from a live holder).
      let renewals = 0;
      let mtime = statSync(path).mtimeMs;
      while (renewals < 4 && !order.includes('b in')) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        const now = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
        if (now !== undefined && now !== mtime) {
          renewals++;
          mtime = now;
        }
      }
      order.push('a out');
    });
    await entered.promise;
    const waiter = createFileLock({ directory, staleMilliseconds, acquireTimeoutMilliseconds: 60_000 }).withLock('k', async () => void order.push('b in'));
    await Promise.all([holder, waiter]);
    assert.deepEqual(order, ['a in', 'a out', 'b in']);
  });

  it('takeover is race-free: a waiter that judged a file abandoned never removes the lock another waiter took meanwhile', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const path = join(directory, `${createHash('sha256').update('k').digest('hex').slice(0, 32)}.lock`);
    writeFileSync(path, lockFileContent(deadPid, 'someone'));
    const theirs = lockFileContent(process.pid, 'another-waiter-took-it');
    // Between this waiter's judgement and its removal, another waiter takes the abandoned lock over.
    const original = { unlinkSync: fs.unlinkSync, renameSync: fs.renameSync };
    let interleaved = false;
    const interleave = (target: unknown) => {
      if (interleaved || target !== path) return;
      interleaved = true;
      original.unlinkSync(path);
      writeFileSync(path, theirs, { flag: 'wx' });
    };
    fs.unlinkSync = (target) => {
      interleave(target);
      original.unlinkSync(target);
    };
    fs.renameSync = (from, to) => {
      interleave(from);
      original.renameSync(from, to);
    };
    syncBuiltinESMExports();
    try {
      await assert.rejects(createFileLock({ directory, acquireTimeoutMilliseconds: 50 }).withLock('k', async () => 'must not get in'), LockTimeoutError);
    } finally {
      Object.assign(fs, original);
      syncBuiltinESMExports();
    }
    assert.ok(interleaved);
    assert.equal(readFileSync(path, 'utf8'), theirs, 'the other waiter\'s lock file is intact');
    assert.deepEqual(readdirSync(directory), [path.split('/').at(-1)], 'nothing else left behind');
  });

  it('a fresh lock file from another host (or container, or NFS client) is not taken over on its pid: only its mtime decides', async () => {
    const deadHere = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(directory, `${createHash('sha256').update('k').digest('hex').slice(0, 32)}.lock`), lockFileContent(deadHere, 'elsewhere', 'another-host-identity'));
    await assert.rejects(createFileLock({ directory, acquireTimeoutMilliseconds: 50 }).withLock('k', async () => 'must not get in'), LockTimeoutError);
  });

  it('a live holder\'s file moved by a takeover that cannot link it back is never deleted, and its holder learns at once', async () => {
    const path = join(directory, `${createHash('sha256').update('k').digest('hex').slice(0, 32)}.lock`);
    const entered = Promise.withResolvers<AbortSignal>();
    const release = Promise.withResolvers<void>();
    // Renewals far apart: the holder must not need one to learn.
    const holder = createFileLock({ directory, staleMilliseconds: 600_000 }).withLock('k', async (hold) => {
      entered.resolve(hold!.signal);
      await release.promise;
    });
    const signal = await entered.promise;
    const live = readFileSync(path, 'utf8');
    const original = fs.linkSync;
    fs.linkSync = () => {
      throw Object.assign(new Error('hard links not supported'), { code: 'EPERM' });
    };
    syncBuiltinESMExports();
    try {
      assert.equal(removeIfStill(path, lockFileContent(1, 'the-abandoned-one'), 'taker'), false);
    } finally {
      fs.linkSync = original;
      syncBuiltinESMExports();
    }
    assert.deepEqual(readdirSync(directory).map((name) => readFileSync(join(directory, name), 'utf8')), [live], 'the live holder\'s file is kept (under the taker\'s name)');
    assert.equal(signal.aborted, true, 'the holder knows its lock is gone, before any renewal');
    release.resolve();
    await holder;
    assert.deepEqual(readdirSync(directory), [], 'the holder removed its moved file when it released');
  });
});
