/**
 * @module Dashboard sessions, signed and checked without storage: a session is an API key's id and
 * an expiry, sealed with an HMAC-SHA256 signature into the cookie value `<keyId>.<expiresAt>.<mac>`.
 * Its CSRF token is a second HMAC of the same session, under another purpose.
 */
import { fromBase64Url, toBase64Url } from '../lib/base64';

/**
 * 12 hours: a marketer's working day with the dashboard open, so nobody is signed out mid-day,
 * while a cookie left on a shared or lost computer stops working by the next morning. It is not
 * extended by use: a stolen cookie cannot be kept alive.
 */
export const SESSION_TTL_SECONDS = 12 * 60 * 60;

export interface Session {
  /** The API key the session acts with (`api_keys.id`). */
  keyId: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export type OpenedSession = { ok: true; session: Session } | { ok: false; reason: 'invalid' | 'expired' };

/**
 * The purpose goes into every MAC so that the two never coincide: the CSRF token is handed to page
 * script, and must not be the cookie's signature, which only the browser may hold.
 */
type Purpose = 'session' | 'csrf';

const COOKIE_VALUE = /^([A-Za-z0-9_-]{1,64})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/;
/**
 * An HMAC-SHA256 in base64url, canonical only: its last character carries 4 bits and 2 zero bits,
 * and a decoder ignores those two, so four spellings of each MAC would otherwise all verify.
 */
const MAC = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

const message = (purpose: Purpose, s: Session) => new TextEncoder().encode(`${purpose}:${s.keyId}.${s.expiresAt}`);

async function mac(key: CryptoKey, purpose: Purpose, s: Session): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.sign('HMAC', key, message(purpose, s))));
}

/** `crypto.subtle.verify` compares in constant time, unlike comparing the strings. */
function verifyMac(key: CryptoKey, purpose: Purpose, s: Session, given: string): Promise<boolean> {
  if (!MAC.test(given)) return Promise.resolve(false);
  return crypto.subtle.verify('HMAC', key, fromBase64Url(given), message(purpose, s));
}

export function newSession(keyId: string, now: number): Session {
  return { keyId, expiresAt: now + SESSION_TTL_SECONDS * 1000 };
}

/** The cookie value. */
export async function sealSession(key: CryptoKey, s: Session): Promise<string> {
  return `${s.keyId}.${s.expiresAt}.${await mac(key, 'session', s)}`;
}

/** The session a cookie value holds, when its signature is ours and it has not expired. */
export async function openSession(key: CryptoKey, value: string, now: number): Promise<OpenedSession> {
  const m = COOKIE_VALUE.exec(value);
  if (!m) return { ok: false, reason: 'invalid' };
  const session = { keyId: m[1]!, expiresAt: Number(m[2]) };
  // The signature first: "expired" is said only of a session we really issued.
  if (!(await verifyMac(key, 'session', session, m[3]!))) return { ok: false, reason: 'invalid' };
  if (session.expiresAt <= now) return { ok: false, reason: 'expired' };
  return { ok: true, session };
}

/** The synchronizer token the page sends back as `X-CSRF-Token`: only script of our origin can read it. */
export const csrfToken = (key: CryptoKey, s: Session) => mac(key, 'csrf', s);

export const isCsrfToken = (key: CryptoKey, s: Session, token: string) => verifyMac(key, 'csrf', s, token);
