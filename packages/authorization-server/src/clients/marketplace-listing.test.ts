import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { marketplaceCategoryFilter, marketplaceSearchTerm, matchesMarketplaceSearch, normalizeCategory, normalizeDescription } from './marketplace-listing.ts';

describe('marketplace listing rules (issue 13)', () => {
  it('a description is plain text of at most 500 characters (code points), trimmed, CRLF as LF; empty is none', () => {
    assert.deepEqual(normalizeDescription('  Payroll\r\nfor teams  '), { description: 'Payroll\nfor teams' });
    assert.deepEqual(normalizeDescription('   '), { description: null });
    assert.deepEqual(normalizeDescription(null), { description: null });
    assert.deepEqual(normalizeDescription('📒'.repeat(500)), { description: '📒'.repeat(500) }, '500 emoji are 500 characters, not 1000');
    assert.deepEqual(normalizeDescription('x'.repeat(501)), { problem: 'must be at most 500 characters' });
    for (const hidden of ['a\u0000b', 'a\u0007b', 'right\u202Eleft', 'zero\u200Bwidth']) {
      assert.ok('problem' in normalizeDescription(hidden), JSON.stringify(hidden));
    }
    assert.deepEqual(normalizeDescription('tab\tand <b>markup</b> stay text'), { description: 'tab\tand <b>markup</b> stay text' });
  });

  it('a category is one of the fixed list; empty is none', () => {
    assert.deepEqual(normalizeCategory('e-commerce'), { category: 'e-commerce' });
    assert.deepEqual(normalizeCategory(''), { category: null });
    assert.deepEqual(normalizeCategory('Payroll'), { problem: 'must be one of accounting, payroll, crm, reporting, e-commerce, other' });
  });

  it('search terms are trimmed and cut to 100 characters; filters outside the list mean every category', () => {
    assert.equal(marketplaceSearchTerm('  kvist  '), 'kvist');
    assert.equal(marketplaceSearchTerm(['a', 'b']), '', 'a repeated parameter is no search');
    assert.equal(marketplaceSearchTerm('y'.repeat(300)).length, 100);
    assert.equal(marketplaceCategoryFilter('crm'), 'crm');
    assert.equal(marketplaceCategoryFilter('games'), undefined);
    assert.equal(marketplaceCategoryFilter(['crm']), undefined);
  });

  it('matches every word in the name or description, case- and accent-insensitively, within the category', () => {
    const app = { clientName: 'Fjord Lønn', description: 'Salaires et café pour les équipes', category: 'payroll' as const };
    assert.ok(matchesMarketplaceSearch(app, '', undefined));
    assert.ok(matchesMarketplaceSearch(app, 'FJORD cafe', undefined));
    assert.ok(matchesMarketplaceSearch(app, 'EQUIPES lønn', 'payroll'));
    assert.ok(!matchesMarketplaceSearch(app, 'fjord', 'crm'));
    assert.ok(!matchesMarketplaceSearch(app, 'fjord invoices', undefined));
    assert.ok(matchesMarketplaceSearch({ clientName: 'Kvist', description: undefined, category: undefined }, 'kv', undefined));
  });
});
