"""The notes' training cell, literally (shaw_14_ann_2025, cell [20]): the baseline cmlp is
measured against. Column vectors, np.diagflat, one sample at a time, then the end-of-epoch
TSEcost loop. Generalised only in taking the parameters as lists instead of W1..W3."""
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def Diff_sigmoid(x):
    return sigmoid(x) * (1 - sigmoid(x))


def notes_epoch(W, b, X_train, y_train, ransel, alpha):
    """One epoch of the notes' SGD for any depth, then their TSEcost loop.

    W[i] (n_i, n_{i+1}), b[i] (n_{i+1}, 1), X_train (N, n_0), y_train (n_L, N) as the notes
    store it (one-hot columns). Updates W and b in place (list items); returns the TSE cost.
    """
    notes_sgd(W, b, X_train, y_train, ransel, alpha)
    return notes_cost(W, b, X_train, y_train, ransel)


def notes_sgd(W, b, X_train, y_train, ransel, alpha):
    """The notes' per-sample loop over ransel (the first half of their cell)."""
    L = len(W)
    for k in range(len(ransel)):
        j = ransel[k]
        a = [X_train[[j], :].T]
        n = [None]
        for i in range(L):
            n.append(W[i].T @ a[-1] + b[i])
            a.append(sigmoid(n[-1]))
        error = y_train[:, [j]] - a[L]
        A = [None] + [np.diagflat(Diff_sigmoid(n[i])) for i in range(1, L + 1)]
        S = [None] * (L + 1)
        S[L] = -2 * A[L] @ error
        for i in range(L, 1, -1):
            S[i - 1] = A[i - 1] @ W[i - 1] @ S[i]
        for i in range(L):
            W[i] = W[i] - alpha * a[i] @ S[i + 1].T
            b[i] = b[i] - alpha * S[i + 1]


def notes_cost(W, b, X_train, y_train, ransel):
    """The notes' end-of-epoch TSEcost loop (the second half of their cell)."""
    L = len(W)
    TSEcost = 0.0
    for j in range(len(ransel)):
        a0 = X_train[[j], :].T
        for i in range(L):
            a0 = sigmoid(W[i].T @ a0 + b[i])
        error = y_train[:, [j]] - a0
        TSEcost += (error * error).sum()
    return TSEcost
