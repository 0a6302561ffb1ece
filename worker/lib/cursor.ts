/** @module Opaque pagination cursors: base64url JSON, validated on the way back in. */
import { z } from 'zod';
import { ApiError } from './errors';

export const encodeCursor = (value: unknown): string =>
  btoa(JSON.stringify(value)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

export function decodeCursor<S extends z.ZodType>(schema: S, cursor: string): z.output<S> {
  try {
    const json = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
    return schema.parse(JSON.parse(json));
  } catch {
    throw new ApiError(400, 'invalid_cursor', 'the cursor is not one this API gave out');
  }
}
