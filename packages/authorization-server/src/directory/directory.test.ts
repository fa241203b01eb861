/** The directory's field rules (directory.ts), shared by the admin API, the CLI and the import. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirectoryError, readName } from './directory.ts';

describe('directory field rules', () => {
  it('a name is 1–200 characters counted as the README counts them: an emoji or a character outside the BMP is one', () => {
    assert.equal(readName('😀'.repeat(200)), '😀'.repeat(200));
    assert.equal(readName('𝔄'.repeat(200)), '𝔄'.repeat(200));
    assert.throws(() => readName('😀'.repeat(201)), (error: unknown) => error instanceof DirectoryError && /at most 200 characters/.test(error.message));
    assert.throws(() => readName('a'.repeat(201)), DirectoryError);
    assert.throws(() => readName('  '), DirectoryError);
    assert.throws(() => readName('tab\there'), DirectoryError);
  });
});
