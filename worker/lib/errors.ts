/** @module One error shape for every route: `{"error": {"code", "message", "issues"?}}`. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';

export interface Issue {
  path: (string | number)[];
  message: string;
}

/** An error the client can act on (4xx, or 503 to retry): thrown anywhere, answered as JSON by `errorResponse`. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues?: Issue[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const zodIssues = (e: z.ZodError): Issue[] =>
  e.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message }));

/** Parses with a schema or throws a 400 whose issues name each path and problem. */
export function parseOr400<S extends z.ZodType>(schema: S, data: unknown, what: string): z.output<S> {
  const r = schema.safeParse(data);
  if (!r.success) throw new ApiError(400, 'invalid_request', `${what} is not valid`, zodIssues(r.error));
  return r.data;
}

export function errorResponse(err: unknown, c: Context): Response {
  if (err instanceof ApiError) {
    const body = { error: { code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) } };
    return c.json(body, err.status);
  }
  if (err instanceof z.ZodError) {
    return c.json({ error: { code: 'invalid_request', message: 'request is not valid', issues: zodIssues(err) } }, 400);
  }
  console.error('unhandled error', err);
  return c.json({ error: { code: 'internal_error', message: 'something went wrong on our side' } }, 500);
}
