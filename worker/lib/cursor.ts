/** @module Opaque pagination cursors: base64url JSON, validated on the way back in. */
import { z } from 'zod';
import { fromBase64Url, toBase64Url } from './base64';
import { ApiError } from './errors';

export const encodeCursor = (value: unknown): string => toBase64Url(new TextEncoder().encode(JSON.stringify(value)));

export function decodeCursor<S extends z.ZodType>(schema: S, cursor: string): z.output<S> {
  try {
    const json = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(fromBase64Url(cursor));
    return schema.parse(JSON.parse(json));
  } catch {
    throw new ApiError(400, 'invalid_cursor', 'the cursor is not one this API gave out');
  }
}
