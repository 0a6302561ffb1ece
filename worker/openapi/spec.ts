/**
 * @module Every `/v1` operation, described by the zod schemas its route validates with: the one
 * place to touch when a route is added. document.ts turns this list into the OpenAPI document, and
 * test/worker/openapi.test.ts checks it against the app's route table both ways.
 */
import { z } from 'zod';
import { ServerBatch, WireBatch, WireEvent } from '../ingest/wire';
import { FIRST_PAGE, MAX_EVENTS } from '../leads/export';
import { SalesUpdate } from '../leads/sales';
import { ChangeItem } from '../changes/item';
import { ApiKeyInput, MAX_ACTIVE_KEYS } from '../routes/api-keys';
import { IdempotencyKey, MembersQuery } from '../routes/bands';
import { ChangesQuery } from '../routes/changes';
import { LeadListQuery } from '../routes/leads';
import { DeliveriesQuery, UnsubscribeQuery, WebhookInput } from '../routes/webhooks';
import { ModelBody, ModelEnvelope, PreviewBody, VersionParam } from '../routes/model';
import { BacktestBody } from '../routes/quality';
import { Model } from '../scoring/model';
import * as answer from './responses';

export type ErrorStatus = 400 | 403 | 404 | 409 | 412 | 413 | 503;

export interface Operation {
  /** Client generators name their methods after it: keep it once published. */
  id: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI form: `/v1/leads/{id}`. */
  path: `/v1/${string}`;
  tag: string;
  summary: string;
  description?: string;
  /** `apiKey` unless said otherwise. */
  auth?: 'apiKey' | 'siteKey' | 'none';
  /** Path parameters the route parses with a schema; any other one is documented as a string. */
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  /** Headers the route requires, by name, with the schema it parses them with. */
  headers?: Record<string, z.ZodType>;
  body?: z.ZodType;
  /** 200 unless said otherwise. */
  status?: 200 | 201 | 202 | 204;
  response?: z.ZodType;
  /**
   * Error answers particular to the route. The usual ones are added from the rest of the entry:
   * 400 with a schema, 401 with an API key, 404 with a path parameter, 413 with a body.
   */
  errors?: Partial<Record<ErrorStatus, string>>;
}

/**
 * Schemas given a name in `components.schemas`, for client generators to name their types after.
 * A request or response schema not named here is named after its operation.
 */
export const named: Record<string, z.ZodType> = {
  Error: answer.ErrorBody,
  Event: WireEvent,
  EventBatch: WireBatch,
  ServerEventBatch: ServerBatch,
  IngestResult: answer.IngestAnswer,
  Model,
  VersionedModel: answer.ModelAnswer,
  EditedModel: ModelEnvelope,
  SavedModel: answer.ModelSaved,
  Recompute: answer.Recompute,
  LeadSummary: answer.LeadSummary,
  Lead: answer.LeadDetail,
  LeadExport: answer.LeadExport,
  SalesUpdate,
  QualityReport: answer.QualityReport,
  Suggestion: answer.SuggestionAnswer,
  Change: ChangeItem,
  Webhook: answer.Webhook,
  ApiKey: answer.ApiKey,
};

/**
 * Arrays whose elements are checked one by one after the envelope (an invalid event is rejected,
 * not the batch): the envelope's schema says `unknown[]`, the document says what each must be.
 */
export const elementsCheckedApart = new Map<z.core.$ZodType, z.ZodType>([[WireBatch.shape.events, WireEvent]]);

const INGEST_OUTCOME =
  'Each event is checked on its own: the answer lists the ids accepted, the duplicates (an event id ' +
  'counts once, however often it is sent) and the events rejected with their reasons. 400 only when no event is valid.';

export const operations: Operation[] = [
  {
    id: 'getOpenApi',
    method: 'get',
    path: '/v1/openapi.json',
    tag: 'meta',
    summary: 'This document',
    auth: 'none',
    response: answer.OpenApiDocument,
  },
  {
    id: 'collect',
    method: 'post',
    path: '/v1/collect',
    tag: 'events',
    summary: 'Browser events from the snippet',
    description:
      'Authenticated by the site key in the body (`site`, `pk_…`, public) and the `Origin` header, which must be one of ' +
      "the site's origins. The body may be sent as `text/plain` (as `navigator.sendBeacon` does). " +
      `Browsers cannot send \`email_open\` or \`email_click\`. ${INGEST_OUTCOME}`,
    auth: 'siteKey',
    body: WireBatch,
    status: 202,
    response: answer.IngestAnswer,
    errors: { 403: 'unknown site key, or an origin that is not one of the site’s', 503: 'the same leads were being written by other requests; send again' },
  },
  {
    id: 'sendEvents',
    method: 'post',
    path: '/v1/events',
    tag: 'events',
    summary: 'Server-side events (e-mail opens and clicks…)',
    description: `Each event names an \`email\` or a \`visitor\`; \`site\`, if given, must be the API key's site key. ${INGEST_OUTCOME}`,
    body: ServerBatch,
    status: 202,
    response: answer.IngestAnswer,
    errors: { 503: 'the same leads were being written by other requests; send again' },
  },
  {
    id: 'listBands',
    method: 'get',
    path: '/v1/bands',
    tag: 'bands',
    summary: 'Bands with their nurturing branch, score range and member count',
    response: answer.BandsAnswer,
  },
  {
    id: 'listLeads',
    method: 'get',
    path: '/v1/leads',
    tag: 'leads',
    summary: 'Leads by score, descending',
    description:
      '`band` is one of the model\'s bands (another is a 400 that names them); the leads in no band are `excluded=true`. ' +
      '`q` searches e-mail, name and company. Page with `cursor`: the `nextCursor` of the previous page.',
    query: LeadListQuery,
    response: answer.LeadList,
  },
  {
    id: 'getLead',
    method: 'get',
    path: '/v1/leads/{id}',
    tag: 'leads',
    summary: 'A lead: scores, breakdown by rule, sales feedback and timeline',
    response: answer.LeadDetail,
  },
  {
    id: 'updateLead',
    method: 'patch',
    path: '/v1/leads/{id}',
    tag: 'leads',
    summary: 'Move a lead to a sales stage, recycle it, or give feedback',
    description:
      'Give a stage, feedback, or both; feedback needs at least one of `fit`, `outcome`, `note`. Outcomes: `won`, `lost`, ' +
      '`bad_fit`, `not_reached`; feedback is kept as a history, the latest counts, and reaching `customer` counts as won. ' +
      'A stage earlier than the lead\'s is refused: a lead goes back only by being recycled, to `lead` (a prospect cannot be), and then moves up the ' +
      'automatic stages again on what it does after.',
    body: SalesUpdate,
    response: answer.LeadSummary,
    errors: {
      409: 'the stage is earlier than the lead\'s (`stage_not_later`): recycle it instead; or a prospect is recycled (`not_recyclable`)',
      503: 'the lead was being changed by other requests; send again',
    },
  },
  {
    id: 'exportLead',
    method: 'get',
    path: '/v1/leads/{id}/export',
    tag: 'leads',
    summary: 'Everything held about a lead, as one JSON file (right of access)',
    description:
      'The lead, its visitors, every event (those it sent as a lead and those its visitors sent before they identified), its transitions, sales ' +
      'feedback and webhook deliveries with their payloads and attempts, as `Content-Disposition: attachment; ' +
      'filename="lead-{id}.json"`. Read in one batch; past its first ' +
      `${FIRST_PAGE.toLocaleString('en-US')} events the document is streamed, the events read page by page as the ` +
      'client reads. `eventCount` is the count when the export began. A lead with more than ' +
      `${MAX_EVENTS.toLocaleString('en-US')} events is refused with a 413 before anything is sent.`,
    response: answer.LeadExport,
    errors: { 413: `the lead has more than ${MAX_EVENTS.toLocaleString('en-US')} events: too many for one export` },
  },
  {
    id: 'deleteLead',
    method: 'delete',
    path: '/v1/leads/{id}',
    tag: 'leads',
    summary: 'Erase a lead and everything personal held about it',
    description:
      'In one transaction: the lead, the visitors that identified as it, its events and the anonymous events of those ' +
      'visitors, its transitions (the changes feed and webhooks skip them from then on, read or not), sales feedback, ' +
      'and its webhook deliveries with their attempts, pending or delivered: a pending one is never sent. The segment ' +
      'counters are decremented; the daily band counts, which name nobody, are kept. A second call answers 404.',
    status: 204,
    errors: { 503: 'the lead was being changed by other requests; send again' },
  },
  {
    id: 'getModel',
    method: 'get',
    path: '/v1/model',
    tag: 'model',
    summary: 'The current scoring model and its version (0: the built-in default)',
    response: answer.ModelAnswer,
  },
  {
    id: 'saveModel',
    method: 'put',
    path: '/v1/model',
    tag: 'model',
    summary: 'Save a new model version and start recomputing every lead',
    description:
      'The body is the model document, or what `GET /v1/model` answers once edited (`{version, model}`), whose `version` ' +
      'is checked as `If-Match: "v<version>"` would be: a version saved since it was loaded answers 412.',
    body: ModelBody,
    status: 201,
    response: answer.ModelSaved,
    errors: { 409: 'another version was saved meanwhile; load the model again', 412: 'If-Match, or the body\'s `version`, names a version that is no longer the newest' },
  },
  {
    id: 'listModelVersions',
    method: 'get',
    path: '/v1/model/versions',
    tag: 'model',
    summary: 'Every saved model version, with who (API key id) and when',
    response: answer.ModelVersions,
  },
  {
    id: 'getModelVersion',
    method: 'get',
    path: '/v1/model/versions/{version}',
    tag: 'model',
    summary: "One version's model",
    params: { version: VersionParam },
    response: answer.ModelAnswer,
  },
  {
    id: 'restoreModelVersion',
    method: 'post',
    path: '/v1/model/versions/{version}/restore',
    tag: 'model',
    summary: 'Save an old version again as the newest, and recompute',
    params: { version: VersionParam },
    status: 201,
    response: answer.ModelSaved,
    errors: { 409: 'another version was saved meanwhile; load the model again' },
  },
  {
    id: 'getLatestRecompute',
    method: 'get',
    path: '/v1/model/recompute',
    tag: 'model',
    summary: 'The latest recompute, or null',
    response: answer.LatestRecompute,
  },
  {
    id: 'getRecompute',
    method: 'get',
    path: '/v1/model/recompute/{id}',
    tag: 'model',
    summary: 'One recompute',
    response: answer.OneRecompute,
  },
  {
    id: 'previewModel',
    method: 'post',
    path: '/v1/model/preview',
    tag: 'model',
    summary: 'What a candidate model would change, without saving it',
    body: PreviewBody,
    response: answer.PreviewAnswer,
  },
  {
    id: 'getQuality',
    method: 'get',
    path: '/v1/quality',
    tag: 'quality',
    summary: 'Is the model right? Conversions per band and stage, MQL to SQL, false positives, and per rule how often it fired for won against lost leads',
    description:
      'Rates come with their 95% Wilson interval. Bands are the leads’ current bands. Outcomes are sales’: `won` (or the ' +
      'stage `customer`), `lost`, `bad_fit` (or `fit: bad`), `not_reached`; the latest counts. Rules are judged on the won ' +
      'and the lost or bad-fit leads, each scored by the current model as it stood when its outcome was decided. Read ' +
      'from the leads sales touched, found by index, and the segment counters: the other leads are not walked.',
    response: answer.QualityReport,
  },
  {
    id: 'suggestWeights',
    method: 'get',
    path: '/v1/quality/suggestion',
    tag: 'quality',
    summary: 'Points per rule learnt from the site’s outcomes, as a whole candidate model to preview and save',
    description:
      'An L2-regularised logistic regression of won against lost and bad-fit leads on the rules’ hits; the weights are ' +
      'scaled so that the rules fitted keep their total of absolute points. Rules that fired for fewer than 5 decided ' +
      'leads keep their points. With fewer than 20 won or 20 lost leads the answer is `enough: false` with a message, ' +
      'and no model. Nothing is saved: preview `model` with `POST /v1/model/preview`, save it with `PUT /v1/model`. ' +
      '`backtest` compares it with the current model.',
    response: answer.SuggestionAnswer,
  },
  {
    id: 'backtestModel',
    method: 'post',
    path: '/v1/quality/backtest',
    tag: 'quality',
    summary: 'How well a candidate model ranks won leads above lost ones (AUC), beside the current model',
    description:
      'Each decided lead is scored with its events up to the time of its outcome, at that time. AUC is the chance that a ' +
      'won lead scores above a lost one (ties half): 0.5 ranks at random. Null when the site has no won or no lost lead.',
    body: BacktestBody,
    response: answer.BacktestAnswer,
  },
  {
    id: 'getSegmentStats',
    method: 'get',
    path: '/v1/bands/stats',
    tag: 'bands',
    summary: 'The score histogram of the leads in a band, and leads per band over the last 30 days',
    response: answer.SegmentStats,
  },
  {
    id: 'listChanges',
    method: 'get',
    path: '/v1/changes',
    tag: 'changes',
    summary: 'The changes feed: band, stage and exclusion changes and branch triggers, oldest first',
    description:
      'Poll with the `nextCursor` of the last page as `after`: no change is ever skipped or repeated, even while ' +
      'changes are being written. Each item has a stable `id` for polling triggers (Zapier, n8n) to deduplicate on; ' +
      'an empty page still returns the cursor to poll with next.',
    query: ChangesQuery,
    response: answer.ChangesPage,
  },
  {
    id: 'listBandMembers',
    method: 'get',
    path: '/v1/bands/{band}/members',
    tag: 'bands',
    summary: 'The leads of a band, by score descending',
    query: MembersQuery,
    response: answer.BandMembers,
  },
  {
    id: 'triggerBand',
    method: 'post',
    path: '/v1/bands/{band}/trigger',
    tag: 'bands',
    summary: "Run the band's nurturing branch for its current members",
    description:
      'Writes one `branch.triggered` change per current member, with the trigger, in one transaction; the feed and the ' +
      'webhooks deliver them. With an `Idempotency-Key` header, the same key answers 200 with the first trigger ' +
      '(`replayed: true`) and writes nothing; without one, every call runs the branch again.',
    headers: { 'Idempotency-Key': IdempotencyKey.optional() },
    status: 202,
    response: answer.TriggerAnswer,
    errors: { 409: 'the Idempotency-Key was used for another band' },
  },
  {
    id: 'createWebhook',
    method: 'post',
    path: '/v1/webhooks',
    tag: 'webhooks',
    summary: 'Subscribe a URL to changes (REST hook); the signing secret is in this answer only',
    description:
      'Deliveries are signed as Standard Webhooks specifies (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,…`), ' +
      'with `{type, timestamp, data}` bodies whose `data` is a change as the feed has it. At least once, in order per lead, ' +
      'retried on a non-2xx answer or after 10 s without one: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.',
    body: WebhookInput,
    status: 201,
    response: answer.WebhookCreated,
    errors: { 409: 'the site has 20 webhooks already' },
  },
  { id: 'listWebhooks', method: 'get', path: '/v1/webhooks', tag: 'webhooks', summary: 'The subscriptions, without their secrets', response: answer.WebhookList },
  { id: 'getWebhook', method: 'get', path: '/v1/webhooks/{id}', tag: 'webhooks', summary: 'One subscription and its deliveries per status', response: answer.WebhookDetail },
  {
    id: 'unsubscribeByUrl',
    method: 'delete',
    path: '/v1/webhooks',
    tag: 'webhooks',
    summary: "Unsubscribe by target URL: every subscription of the site to `url` goes, with its deliveries",
    description: 'URLs are stored and matched as parsed (`new URL(u).href`), so spellings of one URL are one target.',
    query: UnsubscribeQuery,
    response: answer.Unsubscribed,
  },
  { id: 'deleteWebhook', method: 'delete', path: '/v1/webhooks/{id}', tag: 'webhooks', summary: 'Unsubscribe; its deliveries and their log go too', status: 204 },
  {
    id: 'listDeliveries',
    method: 'get',
    path: '/v1/webhooks/{id}/deliveries',
    tag: 'webhooks',
    summary: 'The delivery log, newest first, with the attempts of each',
    query: DeliveriesQuery,
    response: answer.DeliveryLog,
  },
  {
    id: 'retryDelivery',
    method: 'post',
    path: '/v1/webhooks/{id}/deliveries/{delivery}/retry',
    tag: 'webhooks',
    summary: 'Send a delivery again now, with a fresh round of retries',
    status: 202,
    response: answer.RetryAnswer,
    errors: { 404: 'no such webhook, or no such delivery for it', 409: 'the webhook is disabled' },
  },
  {
    id: 'listApiKeys',
    method: 'get',
    path: '/v1/api-keys',
    tag: 'api-keys',
    summary: "The site's secret API keys, revoked ones included: name, prefix, dates, never the key nor its hash",
    description: '`current` marks the key this request is authenticated with.',
    response: answer.ApiKeyList,
  },
  {
    id: 'createApiKey',
    method: 'post',
    path: '/v1/api-keys',
    tag: 'api-keys',
    summary: 'Make a new secret API key; the key is in this answer only',
    description: 'Only its SHA-256 and its prefix are stored: a key that is lost cannot be shown again, make another.',
    body: ApiKeyInput,
    status: 201,
    response: answer.ApiKeyCreated,
    errors: { 409: `the site has ${MAX_ACTIVE_KEYS} active API keys already` },
  },
  {
    id: 'rotateApiKey',
    method: 'post',
    path: '/v1/api-keys/{id}/rotate',
    tag: 'api-keys',
    summary: 'Replace a key: a new key with the same name, the old one revoked at once, in one transaction',
    description:
      'No grace period: the old key stops working with this answer, and so do the dashboard sessions signed in with it. ' +
      'To switch keys without downtime, create a second key, move to it, then revoke the first.',
    status: 201,
    response: answer.ApiKeyRotated,
    errors: { 409: 'the key is revoked already' },
  },
  {
    id: 'revokeApiKey',
    method: 'delete',
    path: '/v1/api-keys/{id}',
    tag: 'api-keys',
    summary: 'Revoke a key; it is kept, with `revokedAt`, for the audit trail',
    description:
      'The key and the dashboard sessions signed in with it stop working at once. Revoking the key this request is made with ' +
      'is allowed: the answer says so with `current: true`. A key already revoked is answered as it is.',
    response: answer.ApiKeyRevoked,
    errors: { 409: 'the last active key of the site: create another one first, or rotate it' },
  },
];
