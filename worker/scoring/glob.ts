/** @module URL path globs of behaviour rules, compiled once per pattern. */

const cache = new Map<string, RegExp>();

/**
 * `**` matches across segments (between slashes, zero or more of them), `*` within one, and a trailing `*` matches any rest of the path,
 * so `/pricing*` covers `/pricing`, `/pricing-teams` and `/pricing/enterprise` alike: that is what
 * marketers mean when they write it. Matching ignores case and a trailing slash.
 *
 * @example globMatch('/case-studies*', '/case-studies/acme') // true
 */
export function globMatch(pattern: string, path: string): boolean {
  let re = cache.get(pattern);
  if (!re) {
    const p = normalizePath(pattern);
    let src = '';
    for (let i = 0; i < p.length; i++) {
      const ch = p[i]!;
      if (ch === '*') {
        if (p[i + 1] === '*' && p[i - 1] === '/' && p[i + 2] === '/') {
          // `/**/` is any number of segments, none included: `/docs/**/intro` matches `/docs/intro`.
          src += '(?:.*/)?';
          i += 2;
        } else if (p[i + 1] === '*') {
          src += '.*';
          i++;
        } else src += i === p.length - 1 ? '.*' : '[^/]*';
      } else if (ch === '?') src += '[^/]';
      else src += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    re = new RegExp(`^${src}$`, 'i');
    if (cache.size > 2000) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(normalizePath(path));
}

/** Lower-case is left to the regex; only the trailing slash is dropped (but `/` stays). */
export function normalizePath(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
