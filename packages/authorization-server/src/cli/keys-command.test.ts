import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { gatehouse } from '../testing/cli.ts';

const directory = mkdtempSync(join(tmpdir(), 'gatehouse-keys-'));
after(() => rmSync(directory, { recursive: true, force: true }));


describe('gatehouse keys (issue 14)', () => {
  it('rotate-token-key adds k1, active after the delay, and keys list shows ids and times but never a key', () => {
    const database = join(directory, 'rotate.sqlite');
    const before = Math.floor(Date.now() / 1000);
    const rotated = gatehouse(database, ['keys', 'rotate-token-key', '--activate-after-seconds', '600', '--json']);
    assert.equal(rotated.status, 0, rotated.stderr);
    const output = JSON.parse(rotated.stdout);
    assert.equal(output.kid, 'k1');
    assert.ok(output.activates_at >= before + 600 && output.activates_at <= before + 660);
    assert.equal(output.previous_key_retires_at, output.activates_at + 60 * 86_400 + 3600);

    const listed = gatehouse(database, ['keys', 'list', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).map((key: { kid: string; minting: boolean }) => [key.kid, key.minting]), [['k0', true], ['k1', false]]);
    const db = new DatabaseSync(database);
    const stored = JSON.parse(String((db.prepare("SELECT value FROM settings WHERE name = 'token_hmac_key.k1'").get() as { value: string }).value));
    db.close();
    assert.ok(!rotated.stdout.includes(stored.key) && !listed.stdout.includes(stored.key), 'the key is never printed');
  });

  it('refuses an activation delay below two keyring reloads with exit 2 and adds no key', () => {
    const database = join(directory, 'short.sqlite');
    const run = gatehouse(database, ['keys', 'rotate-token-key', '--activate-after-seconds', '30']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /at least 120 seconds/);
    const listed = gatehouse(database, ['keys', 'list', '--json']);
    assert.deepEqual(JSON.parse(listed.stdout).map((key: { kid: string }) => key.kid), ['k0']);
  });

  it('rotate publishes the next access-token and session-handover signing keys, signing after the pre-publication', () => {
    const database = join(directory, 'signing.sqlite');
    const before = Math.floor(Date.now() / 1000);
    const run = gatehouse(database, ['keys', 'rotate', '--prepublish-seconds', '900', '--json']);
    assert.equal(run.status, 0, run.stderr);
    const rotations = JSON.parse(run.stdout) as Array<{ key: string; kid: string; activates_at: number }>;
    assert.deepEqual(rotations.map((rotation) => rotation.key), ['access_token_signing_key', 'session_handover_signing_key']);
    for (const rotation of rotations) assert.ok(rotation.activates_at >= before + 900 && rotation.activates_at <= before + 960);
    assert.ok(!run.stdout.includes('"d"'), 'no private key material is printed');
    const refused = gatehouse(database, ['keys', 'rotate', '--prepublish-seconds', '60']);
    assert.equal(refused.status, 2);
  });
});
