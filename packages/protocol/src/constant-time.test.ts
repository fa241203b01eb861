import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantTimeEqual, secretsEqual } from './constant-time.ts';

describe('constantTimeEqual (SPEC decision 9)', () => {
  it('is true for equal strings and equal bytes', () => {
    assert.equal(constantTimeEqual('abc', 'abc'), true);
    assert.equal(constantTimeEqual(Buffer.from([1, 2, 3]), new Uint8Array([1, 2, 3])), true);
    assert.equal(constantTimeEqual('', ''), true);
  });

  it('is false for a different last character, a prefix, and a longer value (no throw on lengths)', () => {
    assert.equal(constantTimeEqual('abc', 'abd'), false);
    assert.equal(constantTimeEqual('ab', 'abc'), false);
    assert.equal(constantTimeEqual('abcd', 'abc'), false);
  });

  it('compares strings as UTF-8 bytes, not as code units', () => {
    assert.equal(constantTimeEqual('é', 'e\u0301'), false);
    assert.equal(constantTimeEqual('é', Buffer.from('c3a9', 'hex')), true);
  });
});

describe('secretsEqual (SPEC decision 9, lengths hidden)', () => {
  it('is true only for the same value, whatever the lengths', () => {
    assert.equal(secretsEqual('s3cret', 's3cret'), true);
    assert.equal(secretsEqual('s3cret', 's3cre'), false);
    assert.equal(secretsEqual('', 's3cret'), false);
    assert.equal(secretsEqual(Buffer.from('s3cret'), 's3cret'), true);
  });
});
