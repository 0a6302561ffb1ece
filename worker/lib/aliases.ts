/**
 * @module Neutral aliases for the snippet and collect paths: ad-blocking lists match well-known
 * tracker paths, so a site owner may serve ours under names of their own.
 */
import type { Bindings } from '../env';

/** Paths from a comma-separated setting, each starting with `/`. */
export const aliases = (setting: string | undefined): string[] =>
  (setting ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^\/[A-Za-z0-9._~/-]{1,100}$/.test(s));

/** The canonical path a request path stands for, or null when it is no alias. */
export function canonicalPath(path: string, env: Bindings): string | null {
  if (aliases(env.SNIPPET_ALIASES).includes(path)) return '/s.js';
  if (aliases(env.COLLECT_ALIASES).includes(path)) return '/v1/collect';
  return null;
}
