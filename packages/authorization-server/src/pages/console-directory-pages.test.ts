/**
 * The console's directory pages, rendered in French: "none" agrees with the feminine nouns it stands
 * beside (Langue : aucune, Organisation : aucune), not "aucun" (found by a browser review).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { translator } from '../i18n/i18n.ts';
import { subjectListPage, userDetailPage } from './console-directory-pages.ts';

const frame = { brandName: 'Gatehouse', csrfToken: 'csrf', userName: 'Alice', t: translator('fr') };

describe('console directory pages in French', () => {
  it('says "aucune" for a user without a language (la langue)', () => {
    const page = userDetailPage({ ...frame, user: { userId: 'u-1', email: 'a@example.com', name: 'Ada', locale: null, createdAt: 0, updatedAt: 0 }, memberships: [], grants: [] });
    assert.match(page, /<dt>Langue<\/dt><dd>aucune<\/dd>/);
  });

  it('says "aucune" for a company without an organization (l’organisation)', () => {
    const page = subjectListPage({
      ...frame, subjectType: 'company', query: '', organizationNames: new Map(),
      subjects: [{ subjectType: 'company', subjectId: 'c-1', name: 'Fjordhus', organizationId: null, createdAt: 0, updatedAt: 0 }],
    });
    assert.match(page, /<td><span class="muted">aucune<\/span><\/td>/);
    assert.doesNotMatch(page, />aucun</);
  });

  it('counts an organization\'s active grants by the language\'s plural rules (it said "aucun" for every organization)', () => {
    const page = subjectListPage({
      ...frame, subjectType: 'organization', query: '', organizationNames: new Map(), activeGrants: new Map([['o-1', 0], ['o-2', 2]]),
      subjects: [
        { subjectType: 'organization', subjectId: 'o-1', name: 'Groupe Un', organizationId: null, createdAt: 0, updatedAt: 0 },
        { subjectType: 'organization', subjectId: 'o-2', name: 'Groupe Deux', organizationId: null, createdAt: 0, updatedAt: 0 },
      ],
    });
    assert.match(page, /<td>0 autorisation active<\/td>/);
    assert.match(page, /<td>2 autorisations actives<\/td>/);
  });
});
