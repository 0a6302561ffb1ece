/**
 * @module The key that signs dashboard sessions and derives their CSRF tokens: the
 * `SESSION_SECRET` binding when the operator set one, otherwise random bytes made once and kept in
 * D1, so that a deployment works without setup and every isolate signs with the same key.
 */
import { database } from '../db/client';
import { storedSecret } from '../db/worker-secrets';
import type { Bindings } from '../env';
import { fromBase64, toBase64 } from '../lib/base64';

/** Shorter is guessable offline from one signed cookie; 32 characters of `openssl rand -base64 32` is 256 bits. */
const MIN_LENGTH = 32;
const STORED_NAME = 'session';

/**
 * Per isolate: the secret does not change while an isolate lives (a new `SESSION_SECRET` comes with
 * a new deployment), so D1 is read once per isolate instead of on every request.
 */
let cached: { source: string; key: Promise<CryptoKey> } | null = null;

export function sessionKey(env: Bindings): Promise<CryptoKey> {
  const configured = env.SESSION_SECRET;
  const source = configured ? `binding:${configured}` : 'd1';
  if (cached?.source !== source) {
    const key = configured ? importKey(bindingBytes(configured)) : storedKey(env.DB);
    const entry = { source, key };
    // A failed read (D1 unreachable) must not be remembered: the next request tries again.
    key.catch(() => {
      if (cached === entry) cached = null;
    });
    cached = entry;
  }
  return cached.key;
}

function bindingBytes(secret: string): Uint8Array {
  if (secret.length < MIN_LENGTH) {
    // Refusing is safer than signing sessions with a guessable key: the operator sees it at once.
    throw new Error(`SESSION_SECRET is ${secret.length} characters long; it needs at least ${MIN_LENGTH}`);
  }
  return new TextEncoder().encode(secret);
}

async function storedKey(d1: D1Database): Promise<CryptoKey> {
  const candidate = toBase64(crypto.getRandomValues(new Uint8Array(32)));
  const value = await storedSecret(database(d1), STORED_NAME, candidate);
  return importKey(fromBase64(value));
}

const importKey = (bytes: Uint8Array) =>
  crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);

