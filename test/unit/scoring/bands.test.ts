/** Bands: the last band whose min the total reaches; the first band holds every lower total. */
import { describe, expect, it } from 'vitest';
import { bandFor } from '../../../worker/scoring/bands';
import { scoreLead } from '../../../worker/scoring/score';
import { BANDS, T0, ev, model, rule } from './fixtures';

describe('bandFor', () => {
  const name = (total: number) => bandFor(model().bands, total).name;

  it('gives the last band whose min the total reaches, min included', () => {
    expect(name(0)).toBe('cold');
    expect(name(24.99)).toBe('cold');
    expect(name(25)).toBe('warm');
    expect(name(74.99)).toBe('warm');
    expect(name(75)).toBe('hot');
    expect(name(10_000)).toBe('hot');
  });

  it('puts a total below the first min in the first band', () => {
    expect(name(-0.01)).toBe('cold');
    expect(name(-500)).toBe('cold');
    const high = model({ bands: [{ name: 'low', min: 10, branch: 'x' }, { name: 'high', min: 20, branch: 'y' }] });
    expect(bandFor(high.bands, 0).name).toBe('low');
  });

  it('returns the whole band, with its branch', () => {
    expect(bandFor(model().bands, 80)).toEqual(BANDS[2]);
  });
});

describe('bands in scoreLead', () => {
  it('are decided on the rounded total', () => {
    const band = (points: number) =>
      scoreLead(model({ behaviourRules: [rule('r', points, { type: 'x' })] }), [ev('x')], {}, T0).band;
    expect(band(24.996)).toBe('warm');
    expect(band(24.994)).toBe('cold');
  });

  it('of a model with a single band hold every lead', () => {
    const one = model({ bands: [{ name: 'all', min: 50, branch: 'b' }], behaviourRules: [rule('r', -5, { type: 'x' })] });
    expect(scoreLead(one, [ev('x')], {}, T0).band).toBe('all');
    expect(scoreLead(one, [], {}, T0).band).toBe('all');
  });
});
