/**
 * @module Neutral aliases for the snippet and collect paths: ad-blocking lists match well-known
 * tracker paths, so a site owner may serve ours under names of their own.
 */
import type { Bindings } from '../env';

const parsed = new Map<string, readonly string[]>();

/**
 * Paths from a comma-separated setting, each starting with `/`. Every request asks (the aliases
 * are looked up before routing), and a setting does not change while the isolate lives: each one
 * is split once.
 */
export function aliases(setting: string | undefined): readonly string[] {
  const text = setting ?? '';
  let paths = parsed.get(text);
  if (paths === undefined) {
    paths = text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => /^\/[A-Za-z0-9._~/-]{1,100}$/.test(s));
    parsed.set(text, paths);
  }
  return paths;
}

/** The canonical path a request path stands for, or null when it is no alias. */
export function canonicalPath(path: string, env: Bindings): string | null {
  if (aliases(env.SNIPPET_ALIASES).includes(path)) return '/s.js';
  if (aliases(env.COLLECT_ALIASES).includes(path)) return '/v1/collect';
  return null;
}
