import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { passwordProblem } from './password-policy.ts';

describe('password policy (NIST SP 800-63B §5.1.1.2)', () => {
  it('refuses fewer than 12 code points after NFKC, counting a surrogate pair as one', () => {
    assert.match(passwordProblem('short-pass1', 'a@example.com')!, /at least 12/);
    assert.match(passwordProblem('😀😀😀😀😀😀😀😀😀😀😀', 'a@example.com')!, /has 11/, 'eleven emoji are 22 UTF-16 units but 11 code points');
    assert.equal(passwordProblem('😀😀😀😀😀😀😀😀😀😀😀😀', 'a@example.com'), undefined);
    // U+FB01 (ﬁ) becomes "fi" under NFKC: six ligatures are twelve characters.
    assert.equal(passwordProblem('ﬁﬁﬁﬁﬁﬁ', 'a@example.com'), undefined);
  });
  it('refuses more than 128 code points', () => {
    assert.match(passwordProblem('x'.repeat(129), 'a@example.com')!, /at most 128/);
    assert.equal(passwordProblem('correct horse battery '.repeat(5).slice(0, 128), 'a@example.com'), undefined);
  });
  it('refuses a commonly used password, in any case', () => {
    assert.match(passwordProblem('qwerty123456', 'a@example.com')!, /commonly used/);
    assert.match(passwordProblem('QWERTY123456', 'a@example.com')!, /commonly used/);
  });
  it('refuses the account\'s e-mail address', () => {
    assert.match(passwordProblem('Alice.Long@Example.com', 'alice.long@example.com')!, /e-mail/);
  });
  it('has no composition rules: lowercase words only are fine', () => {
    assert.equal(passwordProblem('tangerine lighthouse orbit', 'a@example.com'), undefined);
  });
});
