import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LockTimeoutError } from '../errors.ts';
import { createFileLock } from './file.ts';

describe('file lock (processes on one host)', () => {
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
    writeFileSync(join(directory, `${createHash('sha256').update('k').digest('hex').slice(0, 32)}.lock`), `${deadPid} someone\n`);
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
});
