/** @module Random identifiers and keys. */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** `bytes` random bytes as base36-ish text (each byte picks one of 36 characters, no bias). */
export function randomToken(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < 252 && out.length < length) out += ALPHABET[b % 36];
    }
  }
  return out;
}

export const newLeadId = () => `ld_${randomToken(20)}`;
/** 32 base36 characters ≈ 165 bits: enough that a SHA-256 of the key cannot be brute-forced. */
export const newApiKey = () => `sk_${randomToken(32)}`;
export const newSiteKey = () => `pk_${randomToken(24)}`;

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
