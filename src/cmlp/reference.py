"""A pure-NumPy transcription of the course notes' algorithm: the oracle for the C kernels.

This module reads like the notes (``shaw_14_ann_2025``, sections 1.2.4 to 1.2.24) and is
never optimised: it works in float64, one sample at a time, with column vectors, and it
forms the diagonal matrix of activation derivatives ``A = np.diagflat(...)`` exactly as the
notes do. It never imports ``cmlp._core``. Every kernel of cmlp is tested against it.

Notation (the notes'): ``a_0 = x``; for ``i = 1..L``: ``n_i = W_i^T a_{i-1} + b_i`` and
``a_i = sigma_i(n_i)``; ``y = a_L``. The output delta is ``S_L = dF/dn_L`` (for the TSE
loss, ``S_L = -2 A_L e`` with ``e = t - y``), and backpropagation is
``S_{i-1} = A_{i-1} W_i S_i``; then ``dF/dW_i = a_{i-1} S_i^T`` and ``dF/db_i = S_i``.

Python lists are 0-based: ``weights[0]`` is the notes' ``W_1`` and ``a[0]`` is ``a_0``.
Biases are column vectors ``(n_i, 1)`` here, as in the notes; a bias given 1-D (as
``cmlp.Network.biases`` holds it) is read as that column. Targets and outputs of one
sample are read as columns too, and must have the same number of entries.
"""
import numpy as np

__all__ = [
    "activation",
    "activation_derivative",
    "loss_term",
    "output_delta",
    "forward",
    "feedforward",
    "backprop",
    "gradients",
    "total_cost",
    "sgd_epoch",
    "minibatch_step",
    "dropout_masks",
    "backprop_dropout",
    "penalty",
    "penalty_gradients",
    "sgd_update",
    "momentum_update",
    "nesterov_update",
    "adagrad_update",
    "rmsprop_update",
    "adam_update",
    "new_optimizer_state",
    "train_step",
]


def activation(name, n):
    """sigma(n) for one layer; n of shape (n_i, 1) or (n_i,)."""
    if name == "sigmoid":
        return 1 / (1 + np.exp(-n))  # the notes' sigmoid
    if name == "tanh":
        return np.tanh(n)
    if name == "relu":
        return np.maximum(0, n)  # the notes' ReLU
    if name == "leaky_relu":
        return np.where(n > 0, n, 0.01 * n)
    if name == "elu":
        return np.where(n > 0, n, np.expm1(np.minimum(n, 0)))
    if name == "identity":
        return n.copy()
    if name == "softmax":
        e = np.exp(n - n.max())
        return e / e.sum()
    if name == "exp":
        return np.exp(n)  # the output of a Poisson network (log link)
    raise ValueError(f"unknown activation {name!r}")


def activation_derivative(name, n):
    """sigma'(n), elementwise, from the pre-activation n (not for softmax)."""
    if name == "sigmoid":
        s = activation("sigmoid", n)
        return s * (1 - s)  # the notes' Diff_sigmoid
    if name == "tanh":
        return 1 - np.tanh(n) ** 2
    if name == "relu":
        return np.heaviside(n, 0)  # the notes' Diff_ReLU
    if name == "leaky_relu":
        return np.where(n > 0, 1.0, 0.01)
    if name == "elu":
        return np.where(n > 0, 1.0, np.exp(np.minimum(n, 0)))
    if name == "identity":
        return np.ones_like(n)
    if name == "exp":
        return np.exp(n)
    raise ValueError(f"no elementwise derivative for {name!r}")


def _clip(y):
    eps = np.finfo(np.float64).eps  # as scikit-learn clips probabilities
    return np.clip(y, eps, 1 - eps)


def _column(v):
    """v (a sample, a bias, a target: given 1-D or as a column) as a float64 column, as
    the notes write vectors."""
    return np.asarray(v, dtype=np.float64).reshape(-1, 1)


def _columns(t, y):
    """t and y of one sample as float64 columns (n_L, 1) of the same length."""
    t, y = _column(t), _column(y)
    if t.shape != y.shape:
        raise ValueError(f"t has {t.shape[0]} entries but y has {y.shape[0]}")
    return t, y


def loss_term(loss, output, t, y):
    """The loss of one sample (a float).

    tse: ||t - y||^2 (the notes); mse: 1/2 ||t - y||^2; cross_entropy: -sum t log y for a
    softmax output, -sum [t log y + (1 - t) log(1 - y)] for sigmoid outputs; poisson:
    sum [t log(t / y) - t + y] with 0 log 0 = 0 (scikit-learn's half Poisson deviance).
    """
    t, y = _columns(t, y)
    e = t - y
    if loss == "poisson":
        total = 0.0
        for tk, yk in zip(np.ravel(t), np.ravel(y)):
            total += (tk * np.log(tk / yk) if tk != 0 else 0.0) - tk + yk
        return float(total)
    if loss == "tse":
        return float((e * e).sum())
    if loss == "mse":
        return float(0.5 * (e * e).sum())
    if loss == "cross_entropy":
        yc = _clip(y)
        if output == "softmax":
            return float(-(t * np.log(yc)).sum())
        return float(-(t * np.log(yc) + (1 - t) * np.log(1 - yc)).sum())
    raise ValueError(f"unknown loss {loss!r}")


def output_delta(loss, output, t, y, n):
    """S_L = dF/dn_L for one sample; t, y, n of shape (n_L, 1)."""
    t, y = _columns(t, y)
    n = _column(n)
    if loss == "poisson":
        # dF/dy = 1 - t/y and, for the exp output, A_L = diag(y): S_L = A_L (1 - t/y) = y - t
        A = np.diagflat(activation_derivative(output, n))
        return A @ (1 - t / y)
    if loss == "cross_entropy":
        # dF/dy = -t/y (+ (1-t)/(1-y) for sigmoid); multiplied by the output Jacobian this
        # simplifies, as every text on softmax/cross-entropy shows:
        if output == "softmax":
            return y * t.sum() - t
        return y - t
    if loss == "tse":
        g = -2 * (t - y)  # dF/dy for F = ||t - y||^2
    else:
        g = -(t - y)  # dF/dy for F = 1/2 ||t - y||^2
    if output == "softmax":
        J = np.diagflat(y) - y @ y.T  # the softmax Jacobian dy/dn is not diagonal
        return J @ g
    A = np.diagflat(activation_derivative(output, n))
    return A @ g  # the notes: S_L = -2 A_L e


def feedforward(weights, biases, activations, x):
    """The notes' feed-forward for one sample x of shape (n_0,) or (n_0, 1).

    Returns the lists ``a = [a_0, ..., a_L]`` and ``n = [None, n_1, ..., n_L]`` (column
    vectors), so that ``n[i]`` and ``a[i]`` carry the notes' indices.
    """
    a = [_column(x)]
    n = [None]
    for W, b, act in zip(weights, biases, activations):
        n.append(W.T @ a[-1] + _column(b))
        a.append(activation(act, n[-1]))
    return a, n


def forward(weights, biases, activations, X):
    """Outputs y for every row of X (N, n_0), one sample at a time; returns (N, n_L)."""
    X = np.asarray(X, dtype=np.float64)
    rows = [feedforward(weights, biases, activations, x)[0][-1].ravel() for x in X]
    return np.array(rows).reshape(X.shape[0], weights[-1].shape[1])


def backprop(weights, biases, activations, loss, x, t):
    """The notes' backpropagation for one sample.

    Returns ``(dW, db, F)``: lists of dF/dW_i (n_{i-1}, n_i) and dF/db_i (n_i, 1), and the
    sample's loss F.
    """
    a, n = feedforward(weights, biases, activations, x)
    L = len(weights)
    S = [None] * (L + 1)  # S[i] is the notes' S_i
    S[L] = output_delta(loss, activations[-1], t, a[L], n[L])
    for i in range(L, 1, -1):  # i = L, L-1, ..., 2
        A = np.diagflat(activation_derivative(activations[i - 2], n[i - 1]))  # A_{i-1}
        S[i - 1] = A @ weights[i - 1] @ S[i]  # S_{i-1} = A_{i-1} W_i S_i
    dW = [a[i - 1] @ S[i].T for i in range(1, L + 1)]  # a_{i-1} S_i^T
    db = [S[i] for i in range(1, L + 1)]
    return dW, db, loss_term(loss, activations[-1], t, a[L])


def _whole_set_scale(loss, N):
    # tse is the notes' sum over samples; mse, cross_entropy and poisson are means. With
    # sample weights N is the sum of the weights: the weighted sum, or the weighted mean.
    if loss == "tse":
        return 1.0
    if N == 0:
        raise ValueError(f"the mean {loss} loss of no rows (or of rows whose weights sum to "
                         f"0) is undefined")
    return 1.0 / N


def _weights_or_ones(sample_weight, N):
    if sample_weight is None:
        return [1.0] * N
    return [float(v) for v in sample_weight]


def gradients(weights, biases, activations, loss, X, T, sample_weight=None):
    """Gradient of the whole-set cost (tse: sum over rows; mse, cross_entropy, poisson: mean).

    With ``sample_weight`` (N,): row r's loss counts ``w_r`` times, so the cost is
    ``sum_r w_r F_r`` (tse) or ``sum_r w_r F_r / sum_r w_r`` (the others), and its gradient
    the same combination of the rows' gradients. Returns ``(dW, db, cost)`` with
    dW[i] (n_{i-1}, n_i) and db[i] (n_i, 1).
    """
    w = _weights_or_ones(sample_weight, len(X))
    dW = [np.zeros_like(W, dtype=np.float64) for W in weights]
    db = [np.zeros((W.shape[1], 1)) for W in weights]
    cost = 0.0
    for x, t, wr in zip(X, T, w):
        if wr == 0:
            continue  # a row of weight 0 is not part of the cost
        gW, gb, F = backprop(weights, biases, activations, loss, x, t)
        for i in range(len(weights)):
            dW[i] += wr * gW[i]
            db[i] += wr * gb[i]
        cost += wr * F
    s = _whole_set_scale(loss, sum(w))
    return [g * s for g in dW], [g * s for g in db], cost * s


def total_cost(weights, biases, activations, loss, X, T, sample_weight=None):
    """The whole-set cost: the notes' TSEcost loop (sum) for tse, the mean otherwise; with
    ``sample_weight``, the weighted sum (tse) or the weighted mean (the others)."""
    w = _weights_or_ones(sample_weight, len(X))
    cost = 0.0
    for x, t, wr in zip(X, T, w):
        if wr == 0:
            continue
        a, _ = feedforward(weights, biases, activations, x)
        cost += wr * loss_term(loss, activations[-1], t, a[-1])
    return cost * _whole_set_scale(loss, sum(w))


def _copy_params(weights, biases):
    W = [np.array(w, dtype=np.float64) for w in weights]
    b = [_column(v).copy() for v in biases]
    return W, b


def sgd_epoch(weights, biases, activations, loss, X, T, perm, alpha):
    """One epoch of the notes' per-sample SGD over the rows ``perm`` of X.

    For each sample: feed forward, compute every S from the current weights, then update
    ``W_i <- W_i - alpha a_{i-1} S_i^T`` and ``b_i <- b_i - alpha S_i`` for every layer.
    Returns new lists ``(weights, biases)``; the inputs are not modified.
    """
    W, b = _copy_params(weights, biases)
    for j in perm:
        dW, db, _ = backprop(W, b, activations, loss, X[j], T[j])
        for i in range(len(W)):
            W[i] = W[i] - alpha * dW[i]
            b[i] = b[i] - alpha * db[i]
    return W, b


def minibatch_step(weights, biases, activations, loss, X, T, rows, alpha, sample_weight=None):
    """One minibatch gradient-descent step: the mean over ``rows`` of the per-sample
    gradients, times alpha. With one row this is exactly a step of :func:`sgd_epoch`.

    With ``sample_weight`` (one weight per row of X): the weighted mean
    ``sum_j w_j g_j / sum_j w_j`` over the rows; if their weights sum to 0 there is no step.
    Returns new lists ``(weights, biases)``."""
    W, b = _copy_params(weights, biases)
    w = _weights_or_ones(sample_weight, len(X))
    gW = [np.zeros_like(v) for v in W]
    gb = [np.zeros_like(v) for v in b]
    B = 0.0
    for j in rows:
        B += w[j]
        if w[j] == 0:
            continue
        dW, db, _ = backprop(W, b, activations, loss, X[j], T[j])
        for i in range(len(W)):
            gW[i] += w[j] * dW[i]
            gb[i] += w[j] * db[i]
    if B == 0:
        return W, b
    for i in range(len(W)):
        W[i] = W[i] - alpha * (gW[i] / B)
        b[i] = b[i] - alpha * (gb[i] / B)
    return W, b



# ---------------------------------------------------------------- training breadth
# Dropout, penalties and the torch.optim optimizers, one readable function each. The
# parameters are handled as the notes' lists: weights[i] is W_{i+1}, biases[i] is b_{i+1}.


def dropout_masks(u, sizes, drop):
    """Inverted-dropout masks for one sample from its uniform draws.

    u : array of shape (n_1 + ... + n_{L-1},), uniform [0, 1) draws for the hidden units in
    layer order; sizes : the hidden sizes [n_1, ..., n_{L-1}]; drop : their probabilities.
    Unit j of hidden layer i is kept when its draw is >= p_i, and then scaled by
    1 / (1 - p_i); otherwise it is zeroed. Returns column vectors m_i of shape (n_i, 1).
    """
    masks, start = [], 0
    for n, p in zip(sizes, drop):
        keep = np.asarray(u[start:start + n], dtype=np.float64) >= p
        masks.append(np.where(keep, 1.0 / (1.0 - p), 0.0).reshape(-1, 1))
        start += n
    return masks


def backprop_dropout(weights, biases, activations, loss, x, t, masks):
    """Backpropagation for one sample with inverted dropout on the hidden layers.

    Forward: ``h_i = sigma_i(W_i^T a_{i-1} + b_i)``, ``a_i = m_i * h_i`` for hidden layers
    (``masks[i-1]`` is m_i), the output layer as usual. Backward: ``S_{i-1} = A_{i-1} M_{i-1}
    W_i S_i`` with ``M = diag(m)``: the mask enters as one more diagonal factor. Returns
    ``(dW, db, F)`` as :func:`backprop`.
    """
    L = len(weights)
    a = [_column(x)]
    n = [None]
    for i in range(1, L + 1):
        n.append(weights[i - 1].T @ a[i - 1] + _column(biases[i - 1]))
        h = activation(activations[i - 1], n[i])
        a.append(masks[i - 1] * h if i < L else h)
    S = [None] * (L + 1)
    S[L] = output_delta(loss, activations[-1], t, a[L], n[L])
    for i in range(L, 1, -1):
        A = np.diagflat(activation_derivative(activations[i - 2], n[i - 1]))  # A_{i-1}
        M = np.diagflat(masks[i - 2])  # M_{i-1}
        S[i - 1] = A @ M @ weights[i - 1] @ S[i]
    dW = [a[i - 1] @ S[i].T for i in range(1, L + 1)]
    db = [S[i] for i in range(1, L + 1)]
    return dW, db, loss_term(loss, activations[-1], t, a[L])


def penalty(weights, l1=0.0, l2=0.0):
    """The penalty ``l1 sum |w| + l2 sum w^2`` over every weight (biases are not penalised)."""
    return float(sum(l1 * np.abs(W).sum() + l2 * (W * W).sum() for W in weights))


def penalty_gradients(weights, l1=0.0, l2=0.0):
    """d(penalty)/dW_i = l1 sign(W_i) + 2 l2 W_i (sign(0) = 0: the subgradient 0 at 0)."""
    return [l1 * np.sign(W) + 2 * l2 * W for W in weights]


def lbfgs_objective(weights, biases, activations, loss, X, T, l2=0.0):
    """What full-batch L-BFGS minimises: the whole-set cost plus ``l2 sum w^2``.

    Returns ``(f, dW, db)``: the value and its gradient, dW[i] (n_{i-1}, n_i), db[i] (n_i, 1)
    (biases are not penalised).
    """
    dW, db, cost = gradients(weights, biases, activations, loss, X, T)
    dP = penalty_gradients(weights, 0.0, l2)
    return cost + penalty(weights, 0.0, l2), [g + p for g, p in zip(dW, dP)], db


# Each update takes one parameter array p, its gradient g and its state (a dict of arrays,
# empty before the first step) and returns the new p; the formulas are torch.optim's.

def sgd_update(p, g, state, lr):
    """p - lr g."""
    return p - lr * g


def momentum_update(p, g, state, lr, momentum=0.9):
    """SGD with momentum (dampening 0): b = mu b + g; p - lr b."""
    b = momentum * state.get("b", np.zeros_like(p)) + g
    state["b"] = b
    return p - lr * b


def nesterov_update(p, g, state, lr, momentum=0.9):
    """Nesterov momentum as torch.optim.SGD(nesterov=True): b = mu b + g; p - lr (g + mu b)."""
    b = momentum * state.get("b", np.zeros_like(p)) + g
    state["b"] = b
    return p - lr * (g + momentum * b)


def adagrad_update(p, g, state, lr, eps=1e-10):
    """Adagrad (lr_decay 0, initial accumulator 0): s = s + g^2; p - lr g / (sqrt(s) + eps)."""
    s = state.get("s", np.zeros_like(p)) + g * g
    state["s"] = s
    return p - lr * g / (np.sqrt(s) + eps)


def rmsprop_update(p, g, state, lr, alpha=0.99, eps=1e-8):
    """RMSprop (centered False, momentum 0): v = alpha v + (1 - alpha) g^2;
    p - lr g / (sqrt(v) + eps)."""
    v = alpha * state.get("v", np.zeros_like(p)) + (1 - alpha) * g * g
    state["v"] = v
    return p - lr * g / (np.sqrt(v) + eps)


def adam_update(p, g, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam (amsgrad False): m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; with the step
    number t, m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t); p - lr m_hat / (sqrt(v_hat) + eps)."""
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(p)) + (1 - beta1) * g
    v = beta2 * state.get("v", np.zeros_like(p)) + (1 - beta2) * g * g
    state.update(t=t, m=m, v=v)
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


UPDATES = {
    "sgd": sgd_update,
    "momentum": momentum_update,
    "nesterov": nesterov_update,
    "adagrad": adagrad_update,
    "rmsprop": rmsprop_update,
    "adam": adam_update,
}


def new_optimizer_state(weights):
    """One empty state per parameter array, in the order W_1, b_1, W_2, b_2, ..."""
    return [{} for _ in range(2 * len(weights))]


def train_step(weights, biases, activations, loss, X, T, rows, lr, optimizer="sgd",
               state=None, l1=0.0, l2=0.0, U=None, drop=None, sample_weight=None, **hyper):
    """One minibatch step: the mean over ``rows`` of the per-sample gradients (with dropout
    masks from the draws ``U[k]`` for the k-th row of the batch, if U is given), plus the
    penalty's gradient, then the optimizer's update with ``lr`` and ``hyper``.

    So the step descends ``(1/B) sum_rows F + l1 sum |w| + l2 sum w^2``; with
    ``sample_weight`` (one per row of X), ``(1/sum w) sum_rows w F + ...`` (no step at all if
    the rows' weights sum to 0). Returns new lists ``(weights, biases)``; ``state`` (from
    :func:`new_optimizer_state`) is updated in place.
    """
    W, b = _copy_params(weights, biases)
    if state is None:
        state = new_optimizer_state(W)
    sw = _weights_or_ones(sample_weight, len(X))
    gW = [np.zeros_like(v) for v in W]
    gb = [np.zeros_like(v) for v in b]
    hidden = [v.shape[1] for v in W[:-1]]
    B = 0.0
    for k, j in enumerate(rows):
        B += sw[j]
        if sw[j] == 0:
            continue
        if U is not None:
            masks = dropout_masks(U[k], hidden, drop)
            dW, db, _ = backprop_dropout(W, b, activations, loss, X[j], T[j], masks)
        else:
            dW, db, _ = backprop(W, b, activations, loss, X[j], T[j])
        for i in range(len(W)):
            gW[i] += sw[j] * dW[i]
            gb[i] += sw[j] * db[i]
    if B == 0:
        return W, b
    pen = penalty_gradients(W, l1, l2)
    update = UPDATES[optimizer]
    for i in range(len(W)):
        W[i] = update(W[i], gW[i] / B + pen[i], state[2 * i], lr, **hyper)
        b[i] = update(b[i], gb[i] / B, state[2 * i + 1], lr, **hyper)
    return W, b
