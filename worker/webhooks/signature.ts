/**
 * @module Standard Webhooks signing: `whsec_` secrets, and `v1,` HMAC-SHA256 signatures over
 * `${webhook-id}.${webhook-timestamp}.${body}`, so receivers verify with any Standard Webhooks library.
 */

import { fromBase64, toBase64 } from '../lib/base64';

/** 24 random bytes, the size the specification recommends (between 24 and 64). */
export const newSecret = () => `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(24)))}`;

/** Signs with keys imported once per secret: a dispatcher round signs many messages for few hooks. */
export class Signer {
  private keys = new Map<string, Promise<CryptoKey>>();

  private key(secret: string) {
    let key = this.keys.get(secret);
    if (!key) {
      key = crypto.subtle.importKey('raw', fromBase64(secret.slice('whsec_'.length)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      this.keys.set(secret, key);
    }
    return key;
  }

  /** The three headers of one attempt. `timestamp` in seconds, as the specification has it. */
  async headers(secret: string, id: string, timestamp: number, body: string): Promise<Record<string, string>> {
    const mac = await crypto.subtle.sign('HMAC', await this.key(secret), new TextEncoder().encode(`${id}.${timestamp}.${body}`));
    return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${toBase64(mac)}` };
  }
}
