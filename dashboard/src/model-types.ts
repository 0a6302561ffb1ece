/**
 * @module What the `/v1/model` routes answer, as the dashboard reads them.
 *
 * Types only. The model document and everything in these answers is data to show as text: rule
 * labels, band names and e-mails come from whoever holds an API key, and e-mails from visitors.
 */

// Types only, erased from the bundle: the document is the engine's own schema.
import type { Model } from '../../worker/scoring/model';

export type { Model };

/** `GET /v1/model`. */
export interface CurrentModel {
  /** 0 is the built-in default. */
  version: number;
  model: Model;
}

/** `GET /v1/model/recompute[/{id}]`: the recalculation of every lead after a version was saved. */
export interface Recompute {
  id: string;
  modelVersion: number;
  status: 'running' | 'done' | 'superseded' | string;
  total: number;
  processed: number;
  /** Leads whose band, stage or exclusion changed. */
  changed: number;
  startedAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

/** `PUT /v1/model` and `POST /v1/model/versions/{v}/restore`, both 201. */
export interface SavedModel {
  version: number;
  createdAt: number;
  restoredFrom?: number;
  model: Model;
  recompute: Recompute;
}

export interface ModelVersionInfo {
  version: number;
  createdAt: number | null;
  /** The id of the API key that saved it (`key_…`); null for the built-in default. */
  createdBy: string | null;
  builtIn?: boolean;
}

/** `GET /v1/model/versions`, newest first, ending with version 0. */
export interface ModelVersions {
  current: number;
  versions: ModelVersionInfo[];
}

export interface PreviewMove {
  id: string;
  email: string;
  from: string;
  to: string;
  scoreBefore: number;
  scoreAfter: number;
}

/** `POST /v1/model/preview`: where every lead is now and would be with the candidate. */
export interface ModelPreview {
  leads: number;
  /** Leads per band (and `excluded`) with the current model. */
  before: Record<string, number>;
  /** The same with the candidate. */
  after: Record<string, number>;
  moved: number;
  moves: { from: string; to: string; count: number }[];
  /** The first leads that would move, up to the sample size asked for. */
  sample: PreviewMove[];
}
