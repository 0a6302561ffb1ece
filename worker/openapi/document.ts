/**
 * @module The OpenAPI 3.1 document, built from spec.ts with `z.toJSONSchema`: the schemas in it are
 * the ones the routes validate with, converted, never copied.
 */
import { z } from 'zod';
import { ErrorBody } from './responses';
import { elementsCheckedApart, named, operations, type ErrorStatus, type Operation } from './spec';

type Json = Record<string, unknown>;

const COMPONENTS = '#/components/schemas/';
const ref = (id: string) => ({ $ref: `${COMPONENTS}${id}` });
const json = (schema: Json) => ({ 'application/json': { schema } });

/** Names of the parameters in an OpenAPI path: `/v1/leads/{id}` → `['id']`. */
const pathParams = (path: string): string[] => [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);

/**
 * The input side throughout: a request schema's transforms and defaults are applied after the client
 * sent its value, so what a client may send is their input (`excluded=true`, not a boolean; `limit`
 * optional). The response schemas have neither, so for them the two sides are the same, except that
 * the output side of a `z.object` forbids any other field, which would break clients on every field
 * added. Anything else zod cannot represent throws here, and so fails the test, rather than
 * documenting a wrong schema.
 */
const IO = 'input';

/** A schema converted on its own, for a parameter; `$schema` would repeat the document's dialect. */
function inline(schema: z.ZodType): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: IO }) as Json;
  return rest;
}

function queryParams(query: z.ZodObject | undefined): Json[] {
  if (!query) return [];
  const { properties = {}, required = [] } = inline(query) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(properties).map(([name, schema]) => ({ name, in: 'query', required: required.includes(name), schema }));
}

function pathParameters(op: Operation): Json[] {
  const names = pathParams(op.path);
  const unknown = Object.keys(op.params ?? {}).filter((n) => !names.includes(n));
  if (unknown.length) throw new Error(`${op.id}: ${unknown.join(', ')} not in ${op.path}`);
  return names.map((name) => {
    const schema = op.params?.[name];
    return { name, in: 'path', required: true, schema: schema ? inline(schema) : { type: 'string' } };
  });
}

const headerParameters = (op: Operation): Json[] =>
  Object.entries(op.headers ?? {}).map(([name, schema]) => ({ name, in: 'header', required: !schema.safeParse(undefined).success, schema: inline(schema) }));

type Status = ErrorStatus | 401 | 429;

/** The error answers every route of the kind has, then the route's own. */
function errorsOf(op: Operation): Partial<Record<Status, string>> {
  const usual: Partial<Record<Status, string>> = {};
  if (op.body || op.query || op.params || op.headers) usual[400] = 'the request is not valid: `issues` name the path and the problem of each mistake';
  if ((op.auth ?? 'apiKey') === 'apiKey') usual[401] = 'no API key, or an unknown or revoked one';
  const params = pathParams(op.path);
  if (params.length) usual[404] = `no such ${params.at(-1)} on this site`;
  if (op.body) usual[413] = 'the body is too large';
  // Every documented route is behind the per-address limit (collect also behind the per-site one).
  usual[429] = 'too many requests: wait for `Retry-After` seconds and send again';
  return { ...usual, ...op.errors };
}

const SUCCESS = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content' } as const;

function build(): Json {
  const registry = z.registry<{ id: string }>();
  const idOf = (schema: z.ZodType, otherwise: string) => {
    const known = registry.get(schema)?.id;
    if (known) return known;
    registry.add(schema, { id: otherwise });
    return otherwise;
  };
  for (const [name, schema] of Object.entries(named)) registry.add(schema, { id: name });
  // Named after their operation unless `named` names them: generators make a type of each.
  const typeName = (op: Operation) => op.id[0]!.toUpperCase() + op.id.slice(1);
  const bodyId = new Map<Operation, string>();
  const answerId = new Map<Operation, string>();
  for (const op of operations) {
    if (op.body) bodyId.set(op, idOf(op.body, `${typeName(op)}Request`));
    if (op.response) answerId.set(op, idOf(op.response, `${typeName(op)}Response`));
  }
  const errorId = idOf(ErrorBody, 'Error');

  const { schemas } = z.toJSONSchema(registry, {
    io: IO,
    uri: (id) => `${COMPONENTS}${id}`,
    override: ({ zodSchema, jsonSchema }) => {
      const element = elementsCheckedApart.get(zodSchema);
      if (!element) return;
      const id = registry.get(element)?.id;
      if (!id) throw new Error('an element checked apart needs a name in `named`');
      jsonSchema.items = ref(id);
    },
  });
  // An `$id` that is a fragment is not valid JSON Schema, and `$schema` repeats the document's dialect.
  const components = Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]),
  );

  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const item = (paths[op.path] ??= {});
    if (item[op.method]) throw new Error(`${op.method} ${op.path} is described twice`);
    const parameters = [...pathParameters(op), ...queryParams(op.query), ...headerParameters(op)];
    const status = op.status ?? 200;
    const answer = answerId.get(op);
    const body = bodyId.get(op);
    item[op.method] = {
      operationId: op.id,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      // The API key is the document's default; the others say they need no header.
      ...((op.auth ?? 'apiKey') === 'apiKey' ? {} : { security: [] }),
      ...(parameters.length ? { parameters } : {}),
      ...(body ? { requestBody: { required: true, content: json(ref(body)) } } : {}),
      responses: {
        [status]: { description: SUCCESS[status], ...(answer ? { content: json(ref(answer)) } : {}) },
        ...Object.fromEntries(
          Object.entries(errorsOf(op)).map(([code, description]) => [code, { description, content: json(ref(errorId)) }]),
        ),
        default: { description: 'any other failure, in the same shape', content: json(ref(errorId)) },
      },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'leadscore',
      // The contract's version, as in `/v1`: within it, changes only add.
      version: '1',
      description:
        'B2B lead scoring. `POST /v1/collect` is public: the snippet sends the site key (`pk_…`) in the body, from one of ' +
        "the site's origins. Every other route needs a secret API key (`sk_…`) as `Authorization: Bearer sk_…`. " +
        'Errors are `{"error": {"code", "message", "issues"?}}`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [...new Set(operations.map((op) => op.tag))].map((name) => ({ name })),
    security: [{ apiKey: [] }],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: "A site's secret API key, `sk_…`, from `POST /v1/api-keys` (or `POST /admin/sites/{id}/api-keys`). Server-side only.",
        },
        // OpenAPI has no scheme for a key in the body: the site key is the `site` field of
        // `EventBatch`, and `POST /v1/collect` says so. It is public, so it needs no scheme.
      },
    },
  };
}

let built: Json | undefined;

/** Built once per isolate; `servers` per request, so that a downloaded copy still knows where the API is. */
export function openApiDocument(origin: string): Json {
  const { openapi, info, ...rest } = (built ??= build());
  return { openapi, info, servers: [{ url: origin }], ...rest };
}
