import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateClientMetadata, RegistrationError, type ClientMetadata } from '../clients/registration.ts';
import { inspectLogo } from '../clients/client-management.ts';
import { webhookUrlProblem } from '../webhooks/webhook-secret.ts';
import { pngImage } from '../testing/images.ts';
import { translator } from './i18n.ts';
import { refusalInWords } from './registration-refusals.ts';

const de = translator('de');
const metadata: ClientMetadata = {
  clientName: 'Fjord Books', clientType: 'confidential', redirectUris: ['https://fjord.example/cb'], scopes: ['users:read'], subjectType: null, pkceRequired: true,
  clientUri: null, logoUri: null, tosUri: null, policyUri: null, initiationUri: null, settingsUri: null, contacts: [],
};
/** The reason registration gives for `changed` (without its field name). */
function refusal(changed: Partial<ClientMetadata>): string {
  try {
    validateClientMetadata({ ...metadata, ...changed }, 'staging', 'Gatehouse');
  } catch (error) {
    assert.ok(error instanceof RegistrationError);
    return error.message.slice(error.field.length + 2);
  }
  assert.fail('not refused');
}

describe('registration refusals in the page\'s language (issue 13)', () => {
  it('words the real refusals of registration, logos and webhooks in German, naming the refused value', () => {
    assert.equal(refusalInWords(de, refusal({ redirectUris: ['http://fjord.example/cb'] })), 'http://fjord.example/cb muss https verwenden (http nur für localhost, 127.0.0.1 oder [::1] außerhalb der Produktion)');
    assert.equal(refusalInWords(de, refusal({ redirectUris: ['http://127.1/cb'] })), 'http://127.1/cb muss den Loopback-Host als localhost, 127.0.0.1 oder [::1] angeben');
    assert.equal(refusalInWords(de, refusal({ redirectUris: ['http://localhost:0/cb'] })), 'http://localhost:0/cb darf Port 0 nicht verwenden');
    assert.equal(refusalInWords(de, refusal({ redirectUris: ['https://fjord.example\\.evil.example/cb'] })),
      'https://fjord.example\\.evil.example/cb darf nur URI-Zeichen enthalten (RFC 3986, Abschnitt 2): Backslashes, Anführungszeichen, spitze und geschweifte Klammern sowie die Zeichen ^ ` | prozentkodieren');
    assert.equal(refusalInWords(de, refusal({ redirectUris: ['https://fjord.example/caf\u00E9'] })), 'https://fjord.example/caf\u00E9 muss in ASCII geschrieben sein: andere Zeichen prozentkodieren (RFC 3986 Abschnitt 2.1)');
    assert.equal(refusalInWords(de, refusal({ clientName: 'Gatehouse Sync' })), 'darf die Marke Gatehouse nicht verwenden');
    assert.equal(refusalInWords(de, refusal({ clientName: 'Fjord\u0000Books' })), 'darf keine Steuerzeichen enthalten');
    assert.equal(refusalInWords(de, refusal({ scopes: [] })), 'wählen Sie mindestens eine Berechtigung');
    assert.equal(refusalInWords(de, refusal({ contacts: ['not-an-address'] })), 'not-an-address ist keine E-Mail-Adresse');
    assert.equal(refusalInWords(de, refusal({ tosUri: 'https://fjord.example/terms#x', initiationUri: 'https://fjord.example/start#x' })), 'https://fjord.example/start#x darf kein Fragment (#) enthalten');
    assert.throws(() => inspectLogo(pngImage(300, 200)), (error: RegistrationError) => {
      assert.equal(refusalInWords(de, error.message.slice('logo: '.length)), 'muss quadratisch sein (1:1), ist 300×200');
      return true;
    });
    assert.equal(refusalInWords(de, webhookUrlProblem('https://fjord.example/hooks\u0000', 'staging')!), 'darf keine Steuerzeichen enthalten');
    assert.equal(refusalInWords(de, webhookUrlProblem('ftp://fjord.example/hooks', 'staging')!), 'muss https verwenden (http nur für localhost, 127.0.0.1 oder [::1] auf einem Entwicklungsserver)');
    assert.equal(refusalInWords(de, webhookUrlProblem('https://10.0.0.5/hooks', 'staging')!), 'muss eine öffentliche Adresse sein (kein localhost, keine privaten, Link-Local- oder Metadaten-Adressen)');
    assert.equal(refusalInWords(de, webhookUrlProblem('ftp://fjord.example/hooks', 'development')!), 'muss https verwenden (http nur für localhost, 127.0.0.1 oder [::1])');
  });

  it('keeps English word for word, and shows an unknown wording as it is rather than dropping it', () => {
    const reason = refusal({ redirectUris: ['http://fjord.example/cb'] });
    assert.equal(refusalInWords(translator('en'), reason), reason);
    assert.equal(refusalInWords(de, 'something new went wrong'), 'something new went wrong');
  });
});
