"""Logistic regression trained by gradient descent, its gradient from `cupar.value_and_grad`.

The loss is the mean binary cross-entropy of the logits X w + b (computed stably from the
logits) plus an L2 penalty. Full-batch gradient descent with a fixed step runs from zero; the
result is compared with the optimum NumPy finds by Newton's method in float64.
"""

import sys

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403

PENALTY = 0.01


@parallel
def loss(w, b, rows, labels):
    def one(row, label):
        z = sum(map(op_mul, row, w)) + b
        softplus = maximum(z, 0.0) + log(1.0 + exp(-abs(z)))  # log(1 + e^z), stably
        return softplus - label * z
    data = sum(map(one, rows, labels)) / len(labels)
    return data + 0.5 * PENALTY * sum(map(lambda v: v * v, w))


loss_and_gradients = cupar.value_and_grad(loss, argnums=(0, 1))


def train(rows, labels, steps=300, rate=1.0):
    w, b = np.zeros(rows.shape[1], rows.dtype), rows.dtype.type(0)
    history = []
    for _ in range(steps):
        value, (dw, db) = loss_and_gradients(w, b, rows, labels)
        w, b = w - rate * dw, b - rate * db
        history.append(float(value))
    return w, b, history


def newton(rows, labels, iterations=25):
    """The optimum of the same loss by Newton's method, in float64."""
    x = np.hstack([rows.astype(np.float64), np.ones((len(rows), 1))])
    theta = np.zeros(x.shape[1])
    reg = np.full(x.shape[1], PENALTY)
    reg[-1] = 0.0  # the bias is not penalised
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-x @ theta))
        grad = x.T @ (p - labels) / len(labels) + reg * theta
        hess = (x.T * (p * (1 - p))) @ x / len(labels) + np.diag(reg)
        theta -= np.linalg.solve(hess, grad)
    return theta[:-1], theta[-1]


def data(n, d, dtype, seed):
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, d)).astype(dtype)
    truth = rng.standard_normal(d)
    labels = (rng.random(n) < 1 / (1 + np.exp(-(rows @ truth + 0.5)))).astype(dtype)
    return rows, labels


def main(n=4000, d=16, dtype=np.float32, seed=0):
    rows, labels = data(n, d, dtype, seed)
    w, b, history = train(rows, labels)
    w_opt, b_opt = newton(rows, labels)
    # gradient descent on a strongly convex loss (the penalty) converges geometrically: after
    # 300 steps it sits at the optimum up to the rounding of float32 gradients
    gap = max(np.max(np.abs(w - w_opt)), abs(b - b_opt))
    tol = 256 * np.finfo(dtype).eps * (1 + np.max(np.abs(w_opt)))
    ok = w.dtype == dtype and history[-1] < history[0] and gap <= tol
    print(f"logistic_regression (n={n}, d={d}, {np.dtype(dtype).name}): loss "
          f"{history[0]:.4f} -> {history[-1]:.4f}, weights within {gap:.1e} of Newton's "
          f"optimum, {'agrees with NumPy' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
