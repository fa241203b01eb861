/**
 * The README's screenshots cannot rot (issue 13): `scripts/screenshots.ts` walks its pages in Chromium into a
 * temporary directory, and every expected file must be there, be a well-formed PNG (signature, every chunk's
 * CRC, an IHDR, pixel data that inflates to exactly the declared size, IEND last) of the declared width and
 * height, and stay small enough for a README (< 150 KB); the README embeds each with its alt text.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { crc32, inflateSync } from 'node:zlib';
import { DEFAULT_OUTPUT_DIRECTORY, SCREENSHOTS, takeScreenshots } from '../../scripts/screenshots.ts';
import { pngImage } from '../../packages/authorization-server/src/testing/images.ts';
import { chromiumSkipReason } from './chromium.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MAX_BYTES = 150 * 1024;
/** Bytes per pixel at bit depth 8, by PNG colour type (PNG spec §11.2.2). */
const BYTES_PER_PIXEL: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Reads a PNG's chunks and checks its structure; returns its dimensions. Throws on anything malformed. */
function readPng(bytes: Buffer): { width: number; height: number } {
  assert.deepEqual(bytes.subarray(0, 8), PNG_SIGNATURE, 'PNG signature');
  const chunks: { type: string; data: Buffer }[] = [];
  for (let offset = 8; offset < bytes.length;) {
    const length = bytes.readUInt32BE(offset);
    const typeAndData = bytes.subarray(offset + 4, offset + 8 + length);
    assert.equal(bytes.readUInt32BE(offset + 8 + length), crc32(typeAndData), `CRC of the chunk at ${offset}`);
    chunks.push({ type: typeAndData.subarray(0, 4).toString('latin1'), data: typeAndData.subarray(4) });
    offset += 12 + length;
  }
  assert.equal(chunks[0]?.type, 'IHDR', 'IHDR first');
  assert.equal(chunks.at(-1)?.type, 'IEND', 'IEND last');
  const header = chunks[0].data;
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const [bitDepth, colourType, , , interlace] = header.subarray(8);
  assert.equal(bitDepth, 8, 'bit depth');
  assert.equal(interlace, 0, 'not interlaced');
  const pixels = inflateSync(Buffer.concat(chunks.filter((chunk) => chunk.type === 'IDAT').map((chunk) => chunk.data)));
  // Each row: one filter-type byte, then the row's pixels.
  assert.equal(pixels.length, height * (1 + width * BYTES_PER_PIXEL[colourType!]!), 'pixel data matches the declared size');
  return { width, height };
}

describe('README screenshots: scripts/screenshots.ts walks the main pages in Chromium', { skip: chromiumSkipReason }, () => {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-screenshots-'));
  after(() => rmSync(directory, { recursive: true, force: true }));

  it('writes every expected screenshot as a valid, small PNG of the declared size', async () => {
    const taken = await takeScreenshots(directory);
    assert.deepEqual(taken.map((shot) => shot.file), Object.values(SCREENSHOTS).map((spec) => spec.file), 'every screenshot, in walk order');
    for (const spec of Object.values(SCREENSHOTS)) {
      const path = join(directory, spec.file);
      assert.ok(existsSync(path), `${spec.file} exists`);
      const bytes = readFileSync(path);
      assert.deepEqual(readPng(bytes), { width: spec.widthPixels, height: spec.heightPixels }, spec.file);
      assert.ok(bytes.length < MAX_BYTES, `${spec.file} is ${bytes.length} bytes`);
      assert.ok(spec.alt.length > 20, `${spec.file} has alt text`);
    }
    assert.equal(SCREENSHOTS.consentNarrow.widthPixels, 390, 'the consent page is also shot at 390 px');
    assert.ok(Object.values(SCREENSHOTS).filter((spec) => spec !== SCREENSHOTS.consentNarrow).every((spec) => spec.widthPixels === 1280), 'the rest at 1280 px');
  });
});

describe('README screenshots: the README and the PNG check', () => {
  it('the README embeds every screenshot with its alt text', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const spec of Object.values(SCREENSHOTS)) assert.ok(readme.includes(`![${spec.alt}](docs/screenshots/${spec.file})`), spec.file);
  });

  it('the committed screenshots are valid, small PNGs of the declared size', () => {
    for (const spec of Object.values(SCREENSHOTS)) {
      const bytes = readFileSync(new URL(`../../${DEFAULT_OUTPUT_DIRECTORY}/${spec.file}`, import.meta.url));
      assert.deepEqual(readPng(bytes), { width: spec.widthPixels, height: spec.heightPixels }, spec.file);
      assert.ok(bytes.length < MAX_BYTES, `${spec.file} is ${bytes.length} bytes`);
    }
  });

  it('the PNG check reads a good PNG and refuses a damaged or cut one (so the test above can fail)', () => {
    const bytes = pngImage(7, 5);
    assert.deepEqual(readPng(bytes), { width: 7, height: 5 });
    const damaged = Buffer.from(bytes);
    damaged[42] = damaged[42]! ^ 0xff; // inside the IDAT data
    assert.throws(() => readPng(damaged), /CRC/);
    assert.throws(() => readPng(bytes.subarray(0, bytes.length - 12)), /IEND last/);
  });
});
