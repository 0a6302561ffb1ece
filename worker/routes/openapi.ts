/** @module `GET /v1/openapi.json`: the API described for client generators and integration tools. */
import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { openApiDocument } from '../openapi/document';

export const openapiRoutes = new Hono<AppEnv>();

openapiRoutes.get('/', (c) =>
  c.json(openApiDocument(new URL(c.req.url).origin), 200, {
    // The same for every site and caller, and it changes only with a deploy.
    'Cache-Control': 'public, max-age=300',
    // No credentials involved: API explorers and editors fetch it from pages of their own.
    'Access-Control-Allow-Origin': '*',
  }),
);
