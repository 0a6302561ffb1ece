/**
 * @module L2-regularised logistic regression, fitted by Newton's method: which rule hits predict a
 * won lead, in log-odds per hit. Pure and small: a site's decided leads are thousands at most and
 * its rules with enough hits a few dozen, so the exact Newton step (a p×p system) is cheap and
 * converges in a handful of iterations, with no learning rate to tune.
 */

export interface LogisticFit {
  intercept: number;
  /** Log-odds per unit of each feature, in the order of the columns. */
  weights: number[];
  iterations: number;
  converged: boolean;
}

export interface LogisticOptions {
  /** Strength of the L2 penalty on the weights (never on the intercept). */
  lambda?: number;
  maxIterations?: number;
  tolerance?: number;
}

const sigmoid = (t: number) => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)));

/**
 * Fits `P(y = 1 | x) = σ(b + w·x)` minimising the negative log-likelihood plus `λ/2·|w|²`. The
 * penalty keeps weights finite when a rule fired only for won leads (perfect separation) and
 * shrinks those of rarely seen rules towards 0, which is what a suggestion should do with thin
 * evidence.
 *
 * @param rows one feature vector per lead, all of the same length
 * @param labels 1 for won, 0 for lost, one per row
 * @example fitLogistic([[1], [0], [1], [0]], [1, 0, 1, 1]).weights // [≈ 0.4]
 */
export function fitLogistic(rows: readonly (readonly number[])[], labels: readonly number[], options: LogisticOptions = {}): LogisticFit {
  const { lambda = 1, maxIterations = 50, tolerance = 1e-9 } = options;
  if (rows.length !== labels.length) throw new Error('one label per row');
  const p = rows[0]?.length ?? 0;
  const dim = p + 1;
  // θ[0] is the intercept, θ[1..p] the weights.
  const theta = new Float64Array(dim);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations && !converged) {
    iterations++;
    const grad = new Float64Array(dim);
    const hess = new Float64Array(dim * dim);
    for (let i = 0; i < rows.length; i++) {
      const x = rows[i]!;
      let t = theta[0]!;
      for (let j = 0; j < p; j++) t += theta[j + 1]! * x[j]!;
      const mu = sigmoid(t);
      const r = mu - labels[i]!;
      const w = mu * (1 - mu);
      grad[0]! += r;
      hess[0]! += w;
      for (let j = 0; j < p; j++) {
        const xj = x[j]!;
        if (xj === 0) continue;
        grad[j + 1]! += r * xj;
        hess[j + 1]! += w * xj;
        hess[(j + 1) * dim]! += w * xj;
        for (let k = j; k < p; k++) {
          const xk = x[k]!;
          if (xk !== 0) hess[(j + 1) * dim + k + 1]! += w * xj * xk;
        }
      }
    }
    for (let j = 1; j < dim; j++) {
      for (let k = 1; k < j; k++) hess[j * dim + k] = hess[k * dim + j]!;
      grad[j]! += lambda * theta[j]!;
      hess[j * dim + j]! += lambda;
    }
    // A tiny ridge on the intercept too: with all labels equal its optimum is at infinity.
    hess[0]! += 1e-9;
    const step = solveSymmetric(hess, grad, dim);
    let largest = 0;
    for (let j = 0; j < dim; j++) {
      theta[j]! -= step[j]!;
      largest = Math.max(largest, Math.abs(step[j]!));
    }
    converged = largest < tolerance;
  }
  return { intercept: theta[0]!, weights: Array.from(theta.subarray(1)), iterations, converged };
}

/** Solves `A x = b` for a symmetric positive definite `A` (row-major, n×n) by Cholesky. */
function solveSymmetric(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = i === j ? Math.sqrt(Math.max(sum, 1e-12)) : sum / l[j * n + j]!;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * n + k]! * y[k]!;
    y[i] = sum / l[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i]! * x[k]!;
    x[i] = sum / l[i * n + i]!;
  }
  return x;
}
