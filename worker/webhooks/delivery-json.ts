/** @module How a delivery and its attempts are shown: the delivery log and a lead's export alike. */
import { changeId } from '../changes/item';
import type { deliveries, deliveryAttempts } from '../db/schema';

type DeliveryRow = typeof deliveries.$inferSelect;
type AttemptRow = typeof deliveryAttempts.$inferSelect;

export const deliveryJson = (d: DeliveryRow, attempts: readonly AttemptRow[]) => ({
  id: d.id,
  changeId: changeId(d.transitionSeq),
  type: d.type,
  leadId: d.leadId,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.nextAttemptAt,
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  createdAt: d.createdAt,
  deliveredAt: d.deliveredAt,
  payload: JSON.parse(d.payload) as unknown,
  log: attempts.map((a) => ({ at: a.at, status: a.status, error: a.error, durationMs: a.durationMs })),
});
