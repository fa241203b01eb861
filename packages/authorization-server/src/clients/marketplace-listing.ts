/**
 * A client's marketplace listing (issue 13, End users: "a description and category per app (new
 * registration fields), search"): the rules for the two registration fields, and how the marketplace
 * matches a search. Registration and every update validate through `validateClientMetadata`
 * (registration.ts), which calls the checks below; the marketplace endpoint (endpoints/account.ts) filters
 * with `matchesMarketplaceSearch`.
 */
import { MARKETPLACE_CATEGORIES, type ClientRecord, type MarketplaceCategory } from '../storage/storage.ts';

/** Longest description, in characters (Unicode code points, as SQL `length()` counts them; migration 24 enforces it too). */
export const MAX_DESCRIPTION_CHARACTERS = 500;

/** Longest search the marketplace accepts; longer input is cut (a search is never refused). */
export const MAX_SEARCH_CHARACTERS = 100;

/** Control characters other than tab and line feed: plain text has no use for them, and some hide text. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find control characters
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2066-\u2069]/u;

/**
 * Whether one-line text (a name) holds a control character (tab and line breaks included) or an invisible
 * formatting one (zero-width, bidirectional overrides and isolates) that could hide or reorder what it shows.
 */
export function hasHiddenCharacters(oneLine: string): boolean {
  return CONTROL.test(oneLine) || /[\t\n]/.test(oneLine);
}

/**
 * Normalizes a description: CRLF to LF, trimmed; empty means none.
 * @returns the description (null for none) or why it is refused.
 */
export function normalizeDescription(value: string | null | undefined): { description: string | null } | { problem: string } {
  if (value === null || value === undefined) return { description: null };
  const description = value.replace(/\r\n?/g, '\n').trim();
  if (description === '') return { description: null };
  if ([...description].length > MAX_DESCRIPTION_CHARACTERS) return { problem: `must be at most ${MAX_DESCRIPTION_CHARACTERS} characters` };
  if (CONTROL.test(description)) return { problem: 'must be plain text without control or invisible formatting characters' };
  return { description };
}

/**
 * Checks a category against the fixed list (storage.ts MARKETPLACE_CATEGORIES); empty means none.
 * @returns the category (null for none) or why it is refused.
 */
export function normalizeCategory(value: string | null | undefined): { category: MarketplaceCategory | null } | { problem: string } {
  if (value === null || value === undefined || value === '') return { category: null };
  if (!(MARKETPLACE_CATEGORIES as readonly string[]).includes(value)) return { problem: `must be one of ${MARKETPLACE_CATEGORIES.join(', ')}` };
  return { category: value as MarketplaceCategory };
}

/** Folds case and accents away so `cafe` finds `Café` and `ÆBLE` finds `æble` (locale-independent). */
const fold = (text: string) => text.normalize('NFKD').replace(/\p{M}+/gu, '').toLocaleLowerCase('und');

/** A search as typed in the marketplace's GET form: trimmed, cut to MAX_SEARCH_CHARACTERS; '' = no search. */
export function marketplaceSearchTerm(value: unknown): string {
  return typeof value === 'string' ? [...value.trim()].slice(0, MAX_SEARCH_CHARACTERS).join('') : '';
}

/** A category filter from the GET form: one of the fixed list, or undefined (any category) for anything else. */
export function marketplaceCategoryFilter(value: unknown): MarketplaceCategory | undefined {
  return typeof value === 'string' && (MARKETPLACE_CATEGORIES as readonly string[]).includes(value) ? value as MarketplaceCategory : undefined;
}

/**
 * Whether a listed app matches a search and a category filter: every word of the search appears in the
 * app's name or description, case- and accent-insensitively; the category, when given, is the app's.
 */
export function matchesMarketplaceSearch(client: Pick<ClientRecord, 'clientName' | 'description' | 'category'>, search: string, category?: MarketplaceCategory): boolean {
  if (category !== undefined && client.category !== category) return false;
  const haystack = fold(`${client.clientName}\n${client.description ?? ''}`);
  return fold(search).split(/\s+/).filter(Boolean).every((word) => haystack.includes(word));
}
