/**
 * @module A browser's request whose visitor the isolate does not recall, written on a guess: most of
 * a site's visitors are anonymous people, so its events are stored without a lead in the same batch
 * that would otherwise only read, one round trip instead of two.
 *
 * The guess is checked by D1, not by the Worker: each write of the batch holds only while the
 * visitor has no lead, is no robot and this page view keeps its pace within the limit (`onlyIf`),
 * and the visitor's pace is advanced by D1 from what it holds (`paceStepSql`). A guess that does
 * not hold writes nothing; the batch's last statements then read the visitor and its lead, which
 * the isolate recalls (see `recall`), so a lead's page view is written by the next round trip, as
 * after a read. A robot, or a visitor this page view would catch as one, is read in full.
 */
import { getTableColumns } from 'drizzle-orm';
import { leads } from '../db/schema';
import { textFor, type Condition, type Statement } from '../db/statements';
import type { LeadRow } from '../leads/write';
import { MAX_PAGE_VIEWS, paceStepSql } from './pace';
import type { Recall, RecalledVisitor } from './recall';
import { soleVisitor, type WireEvent } from './wire';

/**
 * The visitor to guess for, or null: one visitor the isolate does not recall (a recalled one is
 * written from what is recalled, or read when that cannot be: a robot, one this batch catches, a
 * lead no longer recalled), no identify nor form with an e-mail (its lead only a read finds, by
 * e-mail), and one page view at most, whose pace D1 advances in one step. A batch of many visitors,
 * as the queue's consumer makes, would seldom hold.
 */
export function guessableVisitor(memory: Recall, siteId: string, batch: readonly WireEvent[], identified: boolean): string | null {
  const visitor = soleVisitor(batch);
  if (identified || !visitor) return null;
  if (batch.filter((e) => e.type === 'page_view').length > 1) return null;
  return memory.visitor(siteId, visitor) ? null : visitor;
}

/** The guess, for the writes to be kept on: the visitor is anonymous and human after `pageView` (its time, or null). */
export function anonymous(siteId: string, visitorId: string, pageView: number | null): Condition {
  const sql = (first: number) => {
    const [site, id, ts] = [first, first + 1, first + 2].map((n) => `?${n}`);
    const { count } = paceStepSql('v.pace_start', 'v.pace_count', ts!);
    // A scalar subquery, which stops at the visitor's row: NOT EXISTS read a row more in D1's count.
    return `coalesce((SELECT v.lead_id IS NULL AND v.robot_since IS NULL AND ${count} <= ${MAX_PAGE_VIEWS}
      FROM visitors AS v WHERE v.site_id = ${site} AND v.id = ${id}), 1)`;
  };
  return { key: 'anonymous', sql, params: [siteId, visitorId, pageView] };
}

/**
 * The guess as the statement right after the events' insert sees it: held if that insert wrote its
 * rows (a guessed batch's events are all new, or the batch fails on their key). `changes()` reads
 * no row, where testing the guess again read the visitor's and the inserted values' once more: a
 * guess that did not hold costs the visitor's upsert nothing.
 */
export const guessHeld: Condition = { key: 'guess-held', sql: () => 'changes() > 0', params: [] };

const leadColumns = Object.entries(getTableColumns(leads));

/**
 * What the batch reads last, for a guess that did not hold: the visitor, with its lead whole
 * (`lead.`-prefixed columns, NULL for none). One statement: D1 counts the visitor's row once.
 */
export function guessRead(siteId: string, visitorId: string): Statement {
  const sql = textFor('guess-read', () => {
    const columns = leadColumns.map(([key, column]) => `l."${column.name}" AS "lead.${key}"`).join(', ');
    return `SELECT v.lead_id AS leadId, v.pace_start AS paceStart, v.pace_count AS paceCount, v.robot_since AS robotSince,
        (SELECT coalesce(max(version), 0) FROM models WHERE site_id = ?1) AS modelVersion, ${columns}
      FROM visitors AS v LEFT JOIN leads AS l ON l.id = v.lead_id WHERE v.site_id = ?1 AND v.id = ?2`;
  });
  return { sql, params: [siteId, visitorId] };
}

/**
 * The visitor and its lead as `guessRead` returns them, the lead's columns mapped as drizzle maps
 * them, and the site's latest model version.
 */
export function guessedState(raw: Record<string, unknown>): { visitor: RecalledVisitor; lead: LeadRow | null; modelVersion: number } {
  const { leadId, paceStart, paceCount, robotSince } = raw as unknown as RecalledVisitor;
  const visitor = { leadId, paceStart, paceCount, robotSince };
  const modelVersion = raw.modelVersion as number;
  if (leadId === null || raw['lead.id'] === null) return { visitor, lead: null, modelVersion };
  const lead: Record<string, unknown> = {};
  for (const [key, column] of leadColumns) {
    const value = raw[`lead.${key}`];
    lead[key] = value === null ? null : column.mapFromDriverValue(value);
  }
  return { visitor, lead: lead as LeadRow, modelVersion };
}
