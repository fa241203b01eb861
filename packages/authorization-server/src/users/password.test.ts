import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decoyPasswordHash, hashPassword, verifyPassword } from './password.ts';

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

describe('user passwords', async () => {
  const password = 'correct horse battery staple';
  const hash = await hashPassword(password);

  it('hashes to a PHC argon2id string with a 16-byte salt and 32-byte tag (SPEC decision 9: memory-hard)', () => {
    const match = PHC.exec(hash);
    assert.ok(match, hash);
    assert.ok(Number(match[1]) >= 19_456, 'at least the OWASP 19 MiB');
    assert.ok(Number(match[2]) >= 2);
    assert.equal(Buffer.from(match[4]!, 'base64').length, 16);
    assert.equal(Buffer.from(match[5]!, 'base64').length, 32);
    assert.ok(!hash.includes(password));
    assert.ok(!match[4]!.includes('=') && !match[5]!.includes('='), 'PHC uses unpadded base64');
  });

  it('verifies the right password', async () => {
    assert.equal(await verifyPassword(password, hash), true);
  });

  it('refuses a wrong password, including near misses', async () => {
    assert.equal(await verifyPassword('correct horse battery stapler', hash), false);
    assert.equal(await verifyPassword('Correct horse battery staple', hash), false);
    assert.equal(await verifyPassword('', hash), false);
  });

  it('salts every hash: two hashes of one password differ and both verify', async () => {
    const again = await hashPassword(password);
    assert.notEqual(again, hash);
    assert.notEqual(PHC.exec(again)![4], PHC.exec(hash)![4]);
    assert.equal(await verifyPassword(password, again), true);
  });

  it('hashes non-ASCII passwords as UTF-8', async () => {
    const unicode = await hashPassword('pässwörd 🔑');
    assert.equal(await verifyPassword('pässwörd 🔑', unicode), true);
    assert.equal(await verifyPassword('passwort 🔑', unicode), false);
  });

  it('answers false for a malformed hash', async () => {
    const [, , , parameters, salt, tag] = hash.split('$');
    for (const malformed of [
      '', 'plain-text', password, '$argon2i$v=19$' + hash.split('$v=19$')[1], '$argon2d$v=19$' + hash.split('$v=19$')[1],
      hash.replace('v=19', 'v=16'), `$argon2id$v=19$${parameters}$${salt}`, `$argon2id$v=19$${parameters}$${salt}$`,
      `${hash}$`, `${hash}=`, `$scrypt$ln=15,r=8,p=1$${salt}$${tag}`, hash.replace(/m=\d+/, 'm=x'),
    ]) {
      assert.equal(await verifyPassword(password, malformed), false, malformed);
    }
  });

  it('answers false, not an exception, for a well-shaped hash with impossible parameters', async () => {
    const [, , , , salt, tag] = hash.split('$');
    for (const impossible of [
      `$argon2id$v=19$m=0,t=2,p=1$${salt}$${tag}`,
      `$argon2id$v=19$m=19456,t=0,p=1$${salt}$${tag}`,
      `$argon2id$v=19$m=19456,t=2,p=0$${salt}$${tag}`,
      `$argon2id$v=19$m=19456,t=2,p=1$c2E$${tag}`,
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$aA`,
    ]) {
      assert.equal(await verifyPassword(password, impossible).catch((error: Error) => `threw ${error.message}`), false, impossible);
    }
  });

  it('provides a decoy hash that no password a user could type verifies against (login timing)', async () => {
    const decoy = await decoyPasswordHash;
    assert.match(decoy, PHC);
    assert.equal(await verifyPassword('', decoy), false);
    assert.equal(await verifyPassword(password, decoy), false);
  });
});
