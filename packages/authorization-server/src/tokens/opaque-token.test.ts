import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createOpaqueTokenCodec, type OpaqueTokenKind } from './opaque-token.ts';

const KINDS: OpaqueTokenKind[] = ['gac', 'gat', 'grt'];
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const codec = createOpaqueTokenCodec(randomBytes(32));

/** The value with the character at `index` replaced by another base64url character. */
function replaceAt(value: string, index: number, pick: (current: number) => number = (current) => (current + 32) % 64): string {
  const current = BASE64URL.indexOf(value[index]!);
  assert.notEqual(current, -1);
  return value.slice(0, index) + BASE64URL[pick(current)] + value.slice(index + 1);
}

describe('opaque tokens', () => {
  it('mints <kind>_<random>.<tag> and digestOf gives back the stored digest (SPEC decision 9: only the digest is stored)', () => {
    for (const kind of KINDS) {
      const { value, digest } = codec.mint(kind);
      assert.match(value, new RegExp(`^${kind}_[A-Za-z0-9_-]{43}\\.[A-Za-z0-9_-]{43}$`));
      assert.equal(codec.digestOf(value, kind), digest);
      assert.match(digest, /^[A-Za-z0-9_-]{43}$/); // HMAC-SHA-256, 32 bytes
      assert.ok(!digest.includes(value.slice(kind.length + 1, value.indexOf('.'))), 'the digest does not contain the random part');
    }
  });

  it('carries 256 bits of randomness: 43 base64url characters, never repeated (SPEC decisions 6 and 8, RFC 6749 §10.10)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const { value } = codec.mint('grt');
      const random = value.slice(4, value.indexOf('.'));
      assert.equal(random.length, 43);
      assert.equal(Buffer.from(random, 'base64url').length, 32);
      assert.equal(Buffer.from(random, 'base64url').toString('base64url'), random);
      seen.add(random);
    }
    assert.equal(seen.size, 1000);
  });

  it('refuses a value of another kind: a refresh token is not an access token or a code', () => {
    for (const minted of KINDS) {
      const { value } = codec.mint(minted);
      for (const asked of KINDS) {
        if (asked !== minted) assert.equal(codec.digestOf(value, asked), undefined, `${minted} presented as ${asked}`);
      }
      // Relabelling the prefix breaks the tag too, since the tag covers it.
      const other = KINDS.find((kind) => kind !== minted)!;
      assert.equal(codec.digestOf(other + value.slice(3), other), undefined);
    }
  });

  it('refuses a value whose random part was tampered with (forged values cost no lookup)', () => {
    const { value } = codec.mint('gat');
    for (const index of [4, 20, 45, 46]) {
      assert.equal(codec.digestOf(replaceAt(value, index), 'gat'), undefined, `changed at ${index}`);
    }
    // Even a change only in the low bits of the last random character (same decoded bytes) changes the tagged string.
    assert.equal(codec.digestOf(replaceAt(value, 46, (current) => current ^ 1), 'gat'), undefined);
  });

  it('refuses a value whose tag was tampered with', () => {
    const { value } = codec.mint('grt');
    const tagStart = value.indexOf('.') + 1;
    for (const index of [tagStart, tagStart + 20, value.length - 1]) {
      assert.equal(codec.digestOf(replaceAt(value, index), 'grt'), undefined, `changed at ${index}`);
    }
  });

  it('refuses a tag re-encoded in the unused low bits of its last character (a forged value must not reach storage)', () => {
    const { value } = codec.mint('grt');
    const forged = replaceAt(value, value.length - 1, (current) => current ^ 1);
    assert.notEqual(forged, value);
    assert.equal(codec.digestOf(forged, 'grt'), undefined);
  });

  it('refuses a value minted with another key (a key change invalidates every outstanding token)', () => {
    const other = createOpaqueTokenCodec(randomBytes(32));
    for (const kind of KINDS) {
      const { value } = other.mint(kind);
      assert.equal(codec.digestOf(value, kind), undefined);
    }
  });

  it('refuses malformed values without throwing', () => {
    const { value } = codec.mint('grt');
    const [body, tag] = value.split('.') as [string, string];
    const malformed = [
      '', 'grt', 'grt_', 'grt_.', `${body}`, `${body}.`, `.${tag}`, `${body}${tag}`, `${body}.${tag}.${tag}`,
      `${body}.${tag}=`, `${body}.${tag.slice(1)}`, `${body}.${tag}A`, `${body.slice(0, -1)}.${tag}`, `${body}A.${tag}`,
      ` ${value}`, `${value} `, `${value}\n`, `GRT${value.slice(3)}`, `grt-${value.slice(4)}`, `xyz${value.slice(3)}`,
      `${body}.${tag.slice(0, -1)}+`, `${body}.${tag.slice(0, -1)}/`, `${body.slice(0, -1)}=.${tag}`, `${body}.${tag.slice(0, -1)}%`,
      value.replace('.', '%2E'), encodeURIComponent(value) + '%00', 'é'.repeat(value.length),
    ];
    for (const candidate of malformed) assert.equal(codec.digestOf(candidate, 'grt'), undefined, JSON.stringify(candidate));
  });
});
