/**
 * The token random pool (issue 12): 256-bit values, 43 base64url characters, never one handed out twice,
 * across refills of the pool.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBase64url256, randomPoolBytes } from './random-pool.ts';

describe('randomBase64url256 (SPEC decisions 6 and 8: 256-bit random values)', () => {
  it('gives 32 bytes as 43 base64url characters, each value once, across several refills of the 4 KiB pool', () => {
    const seen = new Set<string>();
    for (let index = 0; index < 1000; index++) {
      const value = randomBase64url256();
      assert.match(value, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(value, 'base64url').length, 32);
      seen.add(value);
    }
    assert.equal(seen.size, 1000, 'no value repeats (a reused pool byte range would)');
  });

  it('gives raw values of the length asked for, copies that later draws never overwrite, and never one twice', () => {
    const values = Array.from({ length: 1000 }, () => randomPoolBytes(12));
    const copies = values.map((value) => Buffer.from(value));
    for (let index = 0; index < 400; index++) randomBase64url256(); // several refills of the pool
    assert.ok(values.every((value, index) => value.length === 12 && value.equals(copies[index]!)));
    assert.equal(new Set(values.map((value) => value.toString('hex'))).size, 1000);
    assert.throws(() => randomPoolBytes(65), RangeError);
  });
});
