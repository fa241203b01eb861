import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHmac, randomBytes as random } from 'node:crypto';
import { createTestClock } from '../clock.ts';
import { createOpaqueTokenCodec, type OpaqueTokenKind } from './opaque-token.ts';
import { createTokenKeyring } from './token-keyring.ts';

const KINDS: OpaqueTokenKind[] = ['gac', 'gat', 'grt'];
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const codec = createOpaqueTokenCodec(random(32));

/** The value with the character at `index` replaced by another base64url character. */
function replaceAt(value: string, index: number, pick: (current: number) => number = (current) => (current + 32) % 64): string {
  const current = BASE64URL.indexOf(value[index]!);
  assert.notEqual(current, -1);
  return value.slice(0, index) + BASE64URL[pick(current)] + value.slice(index + 1);
}

describe('opaque tokens', () => {
  it('mints <kind>_<kid>_<time>_<random>.<tag> and digestOf gives back the stored digest <time><tag> (SPEC decision 9: only the digest is stored)', () => {
    for (const kind of KINDS) {
      const { value, digest } = codec.mint(kind);
      assert.match(value, new RegExp(`^${kind}_k0_[0-9a-v]{9}_[A-Za-z0-9_-]{43}\\.[A-Za-z0-9_-]{43}$`));
      assert.equal(codec.digestOf(value, kind), digest);
      assert.match(digest, /^[0-9a-v]{9}[A-Za-z0-9_-]{43}$/); // the minting time, then HMAC-SHA-256 (32 bytes)
      assert.equal(digest, `${value.slice(7, 16)}${value.slice(value.indexOf('.') + 1)}`);
      assert.ok(!digest.includes(value.slice(kind.length + 4, value.indexOf('.'))), 'the digest does not contain the random part');
    }
  });

  it('carries 256 bits of randomness: 43 base64url characters, never repeated (SPEC decisions 6 and 8, RFC 6749 §10.10)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const { value } = codec.mint('grt');
      const random = value.slice(17, value.indexOf('.'));
      assert.equal(random.length, 43);
      assert.equal(Buffer.from(random, 'base64url').length, 32);
      assert.equal(Buffer.from(random, 'base64url').toString('base64url'), random);
      seen.add(random);
    }
    assert.equal(seen.size, 1000);
  });

  it('puts the minting second first in the digest, so digests sort by minting time (new rows land at the end of the index, issue 12)', () => {
    const clock = createTestClock(1_800_000_000);
    const timed = createOpaqueTokenCodec(random(32), clock);
    const digests: string[] = [];
    for (const step of [0, 1, 31, 32, 1_000, 86_400, 10 * 365 * 86_400]) {
      clock.advanceSeconds(step);
      const { value, digest } = timed.mint('grt');
      assert.equal(value.slice(7, 16), `${clock.nowSeconds().toString(32)}00`); // a clock without milliseconds: the second's start
      assert.equal(parseInt(digest.slice(0, 7), 32), clock.nowSeconds());
      digests.push(digest);
    }
    // Byte order (PostgreSQL's key columns are COLLATE "C", SQLite compares bytes): later mints sort after.
    assert.deepEqual([...digests].sort(), digests);
  });

  it('orders the values of one second by its fraction (1/1024ths): a clock with milliseconds puts later mints after earlier ones (issue 12)', () => {
    let milliseconds = 1_800_000_000_000;
    const clock = { nowSeconds: () => Math.floor(milliseconds / 1000), nowMilliseconds: () => milliseconds };
    const timed = createOpaqueTokenCodec(random(32), clock);
    const digests: string[] = [];
    for (const at of [0, 1, 2, 500, 998, 999, 1_000, 1_001]) {
      milliseconds = 1_800_000_000_000 + at;
      const { value, digest } = timed.mint('gat');
      assert.equal(timed.digestOf(value, 'gat'), digest);
      assert.equal(parseInt(digest.slice(0, 7), 32), Math.floor(milliseconds / 1000));
      assert.equal(parseInt(digest.slice(7, 9), 32), Math.floor(((milliseconds % 1000) * 1024) / 1000));
      digests.push(digest);
    }
    assert.deepEqual([...digests].sort(), digests);
    assert.deepEqual(digests.map((digest) => digest.slice(7, 9)), ['00', '01', '02', 'g0', 'vt', 'vu', '00', '01']);
  });

  it('still verifies a value minted with the second alone (<kind>_<kid>_<second>_<random>.<tag>): its digest is <second><tag>, as stored then', () => {
    const key = random(32);
    const body = `grt_k0_${(1_800_000_000).toString(32)}_${random(32).toString('base64url')}`;
    const tag = createHmac('sha256', key).update(body).digest('base64url');
    assert.equal(createOpaqueTokenCodec(key).digestOf(`${body}.${tag}`, 'grt'), `${(1_800_000_000).toString(32)}${tag}`);
  });

  it('refuses a value whose time was altered: the tag covers it', () => {
    const { value } = codec.mint('grt');
    const time = value.slice(7, 16);
    const later = (parseInt(time, 32) + 1).toString(32).padStart(9, '0');
    assert.equal(codec.digestOf(`${value.slice(0, 7)}${later}${value.slice(16)}`, 'grt'), undefined);
    // Its second alone (7 characters), as values minted before the fraction carry it: the tag covers all 9.
    assert.equal(codec.digestOf(`${value.slice(0, 7)}${time.slice(0, 7)}${value.slice(16)}`, 'grt'), undefined);
    for (const bad of [time.toUpperCase(), `${time.slice(0, 8)}w`, time.slice(1), `0${time}`, `${time}0`]) {
      assert.equal(codec.digestOf(`${value.slice(0, 7)}${bad}${value.slice(16)}`, 'grt'), undefined, bad);
    }
  });

  it('still verifies a value minted before the time segment (<kind>_<kid>_<random>.<tag>): its digest is its tag, as stored then', () => {
    const key = random(32);
    const body = `gat_k0_${random(32).toString('base64url')}`;
    const legacyTag = createHmac('sha256', key).update(body).digest('base64url');
    assert.equal(createOpaqueTokenCodec(key).digestOf(`${body}.${legacyTag}`, 'gat'), legacyTag);
    // A random part that happens to start like a time segment still parses one way only.
    const lookalike = `gat_k0_0123456_${random(27).toString('base64url').slice(0, 35)}`;
    assert.equal(lookalike.length, 7 + 43);
    const lookalikeTag = createHmac('sha256', key).update(lookalike).digest('base64url');
    assert.equal(createOpaqueTokenCodec(key).digestOf(`${lookalike}.${lookalikeTag}`, 'gat'), lookalikeTag);
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
    for (const index of [7, 20, 48, 49]) {
      assert.equal(codec.digestOf(replaceAt(value, index), 'gat'), undefined, `changed at ${index}`);
    }
    // Even a change only in the low bits of the last random character (same decoded bytes) changes the tagged string.
    assert.equal(codec.digestOf(replaceAt(value, 49, (current) => current ^ 1), 'gat'), undefined);
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
    const other = createOpaqueTokenCodec(random(32));
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
      `${body}.${tag}=`, `grt__${value.slice(7)}`, `grt_k_${value.slice(7)}`, `grt_K0_${value.slice(7)}`, `grt_k00_${value.slice(7)}`,
      `grt_k1${value.slice(6)}`, `grt_k9999999_${value.slice(7)}`, `${body}.${tag.slice(1)}`, `${body}.${tag}A`, `${body.slice(0, -1)}.${tag}`, `${body}A.${tag}`,
      ` ${value}`, `${value} `, `${value}\n`, `GRT${value.slice(3)}`, `grt-${value.slice(4)}`, `grt_k0-${value.slice(7)}`, `xyz${value.slice(3)}`,
      `${body}.${tag.slice(0, -1)}+`, `${body}.${tag.slice(0, -1)}/`, `${body.slice(0, -1)}=.${tag}`, `${body}.${tag.slice(0, -1)}%`,
      value.replace('.', '%2E'), encodeURIComponent(value) + '%00', 'é'.repeat(value.length),
    ];
    for (const candidate of malformed) assert.equal(codec.digestOf(candidate, 'grt'), undefined, JSON.stringify(candidate));
  });

  describe('key ids (issue 14: rotating the token key logs nobody out)', () => {
    const original = random(32);
    const next = random(32);
    const ACTIVATES_AT = 1_800_000_300;
    const RETENTION = 60 * 24 * 3600;
    const ring = () => createTokenKeyring(original, [{ kid: 'k1', key: next, activatesAt: ACTIVATES_AT }], RETENTION);

    it('verifies a value minted before key ids existed (<kind>_<random>.<tag>) with the original key k0', () => {
      const body = `grt_${random(32).toString('base64url')}`;
      const legacyTag = createHmac('sha256', original).update(body).digest('base64url');
      const clock = createTestClock();
      const ringCodec = createOpaqueTokenCodec(ring(), clock);
      assert.equal(ringCodec.digestOf(`${body}.${legacyTag}`, 'grt'), legacyTag);
      // ...and refuses it once k0 retired (the successor active for the whole retention).
      clock.advanceSeconds(ACTIVATES_AT - clock.nowSeconds() + RETENTION);
      assert.equal(ringCodec.digestOf(`${body}.${legacyTag}`, 'grt'), undefined);
    });

    it('mints with the newest active key: k0 before k1 activates, k1 from then on; both verify meanwhile', () => {
      const clock = createTestClock(ACTIVATES_AT - 1);
      const ringCodec = createOpaqueTokenCodec(ring(), clock);
      const before = ringCodec.mint('grt');
      assert.match(before.value, /^grt_k0_/);
      clock.advanceSeconds(1);
      const after = ringCodec.mint('grt');
      assert.match(after.value, /^grt_k1_/);
      assert.equal(ringCodec.digestOf(before.value, 'grt'), before.digest);
      assert.equal(ringCodec.digestOf(after.value, 'grt'), after.digest);
      // The tag covers the key id: relabelling a k1 value as k0 breaks it.
      assert.equal(ringCodec.digestOf(after.value.replace('_k1_', '_k0_'), 'grt'), undefined);
    });

    it('accepts a value of a key announced but not yet active (an instance whose clock runs ahead minted it)', () => {
      const clock = createTestClock(ACTIVATES_AT + 1);
      const ahead = createOpaqueTokenCodec(ring(), clock).mint('gat');
      assert.match(ahead.value, /^gat_k1_/);
      assert.equal(createOpaqueTokenCodec(ring(), createTestClock(ACTIVATES_AT - 60)).digestOf(ahead.value, 'gat'), ahead.digest);
    });

    it('keeps an old key verifying until its successor has been active for the retention, then refuses its values', () => {
      const clock = createTestClock(ACTIVATES_AT - 10);
      const ringCodec = createOpaqueTokenCodec(ring(), clock);
      const old = ringCodec.mint('grt');
      clock.advanceSeconds(10 + RETENTION - 1);
      assert.equal(ringCodec.digestOf(old.value, 'grt'), old.digest);
      clock.advanceSeconds(1);
      assert.equal(ringCodec.digestOf(old.value, 'grt'), undefined);
    });

    it('refuses a value naming an unknown key id, even with a tag made by a known key', () => {
      const clock = createTestClock(ACTIVATES_AT);
      const ringCodec = createOpaqueTokenCodec(ring(), clock);
      const body = `gat_k7_${random(32).toString('base64url')}`;
      for (const key of [original, next]) {
        assert.equal(ringCodec.digestOf(`${body}.${createHmac('sha256', key).update(body).digest('base64url')}`, 'gat'), undefined);
      }
    });

    it('keys the digest of signed values (JWT access tokens) with k0 whichever key mints, so a rotation keeps them findable', () => {
      const clock = createTestClock(ACTIVATES_AT - 1);
      const ringCodec = createOpaqueTokenCodec(ring(), clock);
      const before = ringCodec.digestOfSignedValue('header.payload.signature');
      clock.advanceSeconds(3600);
      assert.equal(ringCodec.digestOfSignedValue('header.payload.signature'), before);
      assert.equal(before, createHmac('sha256', original).update('header.payload.signature').digest('base64url'));
    });
  });
});
