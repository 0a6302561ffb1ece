/** URL path globs of behaviour rules. */
import { describe, expect, it } from 'vitest';
import { globMatch, normalizePath } from '../../../worker/scoring/glob';

const yes = (pattern: string, ...paths: string[]) => {
  for (const p of paths) expect(globMatch(pattern, p), `${pattern} should match ${p}`).toBe(true);
};
const no = (pattern: string, ...paths: string[]) => {
  for (const p of paths) expect(globMatch(pattern, p), `${pattern} should not match ${p}`).toBe(false);
};

describe('globMatch', () => {
  it('without a wildcard matches the whole path only', () => {
    yes('/about', '/about');
    no('/about', '/about-us', '/about/team', '/en/about', '/abou');
  });

  it('`*` inside a pattern matches within one segment', () => {
    yes('/blog/*/comments', '/blog/post-1/comments', '/blog/x/comments');
    no('/blog/*/comments', '/blog/a/b/comments', '/blog/comments');
    yes('/docs/*.pdf', '/docs/guide.pdf');
    no('/docs/*.pdf', '/docs/v2/guide.pdf');
  });

  it('`**` matches across segments', () => {
    yes('/docs/**/intro', '/docs/a/intro', '/docs/a/b/c/intro');
    yes('/docs/**', '/docs/a', '/docs/a/b/c');
    yes('**', '/', '/any/thing/at/all');
    no('/docs/**/intro', '/blog/a/intro', '/docs/a/intro/more', '/docs-old/intro');
  });

  it('`/**/` also matches no segment at all', () => {
    yes('/docs/**/intro', '/docs/intro');
    yes('/**/pricing', '/pricing', '/en/pricing', '/en/us/pricing');
    no('/**/pricing', '/pricing-old', '/en/pricing/more');
  });

  it('a trailing `*` matches any rest of the path, a prefix (what marketers mean)', () => {
    yes('/pricing*', '/pricing', '/pricing-teams', '/pricing/enterprise', '/pricing/a/b');
    no('/pricing*', '/pric', '/en/pricing', '/blog/pricing');
    yes('/case-studies*', '/case-studies/acme');
  });

  it('`?` matches exactly one character within a segment', () => {
    yes('/p?ge', '/page', '/pXge');
    no('/p?ge', '/pge', '/paage', '/p/ge');
  });

  it('ignores a trailing slash on the path and on the pattern', () => {
    yes('/pricing', '/pricing/', '/pricing');
    yes('/pricing/', '/pricing', '/pricing/');
    yes('/', '/');
    no('/', '/pricing');
  });

  it('ignores case', () => {
    yes('/Pricing*', '/PRICING/Teams', '/pricing');
    yes('/références*', '/RÉFÉRENCES/acme');
  });

  it('takes regular-expression characters literally', () => {
    yes('/a.b', '/a.b');
    no('/a.b', '/axb');
    yes('/c++/(x)|y', '/c++/(x)|y');
    no('/c++/(x)|y', '/cc/x', '/y');
    yes('/[draft]', '/[draft]');
    no('/[draft]', '/d');
    yes('/price$', '/price$');
    no('/price$', '/price');
  });

  it('gives each pattern its own answer, whatever was matched before', () => {
    const answers = [
      globMatch('/a*', '/abc'),
      globMatch('/a', '/abc'),
      globMatch('/a*', '/abc'),
      globMatch('/a/', '/a'),
      globMatch('/a', '/a/'),
    ];
    expect(answers).toEqual([true, false, true, true, true]);
  });
});

describe('normalizePath', () => {
  it('drops one trailing slash but keeps the root', () => {
    expect(normalizePath('/pricing/')).toBe('/pricing');
    expect(normalizePath('/pricing')).toBe('/pricing');
    expect(normalizePath('/')).toBe('/');
  });
});
