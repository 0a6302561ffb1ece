/** @module Days as the daily counters key them: `YYYY-MM-DD`, UTC. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
