/**
 * @module `/v1/quality`: is the model right? The model-quality report, weights suggested from the
 * site's outcomes, and the backtest of a candidate model beside the current one. Read-only: a
 * suggestion is applied by saving it as a model version (`PUT /v1/model`), never here.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { database } from '../db/client';
import type { AppEnv } from '../env';
import { readJsonBody } from '../lib/body';
import { parseOr400 } from '../lib/errors';
import { backtest } from '../quality/backtest';
import { readQualityData } from '../quality/read';
import { qualityReport } from '../quality/report';
import { hitsOf, ruleEvidence } from '../quality/rule-evidence';
import { suggestWeights } from '../quality/suggest';
import { Model } from '../scoring/model';

export const qualityRoutes = new Hono<AppEnv>();

const MAX_MODEL_BYTES = 256 * 1024;

qualityRoutes.get('/', async (c) => {
  const site = c.get('site');
  const data = await readQualityData(database(c.env.DB), site.id);
  return c.json({
    modelVersion: site.modelVersion,
    ...qualityReport(site.model, data.counts, data.touched),
    decided: { won: data.decided.filter((l) => l.label === 1).length, lost: data.decided.filter((l) => l.label === 0).length },
    rules: ruleEvidence(site.model, data.decided, hitsOf(site.model, data.decided)),
    truncated: data.truncated,
  });
});

qualityRoutes.get('/suggestion', async (c) => {
  const site = c.get('site');
  const data = await readQualityData(database(c.env.DB), site.id);
  const suggestion = suggestWeights(site.model, data.decided);
  return c.json({
    modelVersion: site.modelVersion,
    ...suggestion,
    ...(suggestion.enough ? { backtest: backtest(site.model, suggestion.model, data.decided) } : {}),
    truncated: data.truncated,
  });
});

export const BacktestBody = z.strictObject({ model: Model });

qualityRoutes.post('/backtest', async (c) => {
  const body = parseOr400(BacktestBody, await readJsonBody(c, MAX_MODEL_BYTES), 'the backtest request');
  const site = c.get('site');
  const data = await readQualityData(database(c.env.DB), site.id);
  const result = backtest(site.model, body.model, data.decided);
  const message =
    result.won && result.lost
      ? `Scored ${result.won} won and ${result.lost} lost or bad-fit leads as they stood when decided.`
      : `The backtest needs won and lost leads to compare: this site has ${result.won} won and ${result.lost} lost or bad fit.`;
  return c.json({ modelVersion: site.modelVersion, ...result, message, truncated: data.truncated });
});
