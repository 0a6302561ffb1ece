import { describe, expect, it } from 'vitest';
import { fitLogistic } from '../../../worker/quality/logistic';
import { seeded, sigmoid } from './synthetic';

/** Rows of binary features drawn at random, labels drawn from the true logistic model. */
function draw(weights: readonly number[], intercept: number, n: number, seed: number) {
  const random = seeded(seed);
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const x: number[] = weights.map(() => (random() < 0.4 ? 1 : 0));
    rows.push(x);
    labels.push(random() < sigmoid(intercept + x.reduce((s, v, j) => s + v * weights[j]!, 0)) ? 1 : 0);
  }
  return { rows, labels };
}

describe('fitLogistic', () => {
  it('recovers the sign and the order of known weights from 3,000 synthetic leads', () => {
    const truth = [2, 1, 0.3, -1, -2];
    const { rows, labels } = draw(truth, -0.5, 3000, 7);
    const fit = fitLogistic(rows, labels);
    expect(fit.converged).toBe(true);
    expect(fit.weights.map(Math.sign)).toEqual(truth.map(Math.sign));
    const order = (ws: readonly number[]) => ws.map((w, j) => [w, j] as const).sort((a, b) => b[0] - a[0]).map(([, j]) => j);
    expect(order(fit.weights)).toEqual(order(truth));
    // With this many leads the penalty barely shrinks: each weight is near the truth.
    fit.weights.forEach((w, j) => expect(Math.abs(w - truth[j]!)).toBeLessThan(0.3));
    expect(fit.intercept).toBeCloseTo(-0.5, 0);
  });

  it('keeps weights finite when a feature fires only for won leads, and shrinks more with a stronger penalty', () => {
    const rows = [[1], [1], [1], [0], [0], [0], [0], [0]];
    const labels = [1, 1, 1, 1, 0, 0, 0, 0];
    const light = fitLogistic(rows, labels, { lambda: 0.1 });
    const strong = fitLogistic(rows, labels, { lambda: 10 });
    expect(Number.isFinite(light.weights[0])).toBe(true);
    expect(light.weights[0]).toBeGreaterThan(strong.weights[0]!);
    expect(strong.weights[0]).toBeGreaterThan(0);
  });

  it('matches the closed form of a single binary feature without penalty', () => {
    // Won 30 of 40 with the feature, 10 of 40 without: log-odds 3 and 1/3, a weight of ln 9.
    const rows = [...Array(40).fill([1]), ...Array(40).fill([0])];
    const labels = [...Array(30).fill(1), ...Array(10).fill(0), ...Array(10).fill(1), ...Array(30).fill(0)];
    const fit = fitLogistic(rows, labels, { lambda: 0 });
    expect(fit.weights[0]).toBeCloseTo(Math.log(9), 6);
    expect(fit.intercept).toBeCloseTo(Math.log(1 / 3), 6);
  });
});
