"""Implementations timed by ``benchmarks/compare.py``: cmlp and its peers.

Every implementation trains the same network from the same initial parameters on the
same rows, one *recipe* at a time:

- ``A``: the notes. Sigmoid hidden and output layers, total squared error
  ``F = ||t - y||^2`` per row, plain SGD (``lr`` 0.3), rows in a fixed order.
- ``Bsgd``: ReLU hidden layers, softmax output, cross-entropy (mean over the batch),
  plain SGD, a fresh shuffle every epoch.
- ``B``: ``Bsgd`` with heavy-ball momentum 0.9 (PyTorch's form: ``v = mu v + g``,
  ``p -= lr v``; scikit-learn's ``nesterovs_momentum=False`` is the same update).

A training step with batch ``B`` uses ``lr`` times the mean over the batch of the
per-row gradients (``DECISIONS.md``); with ``B = 1`` this is the notes' per-sample
update. One *epoch* is the training pass **plus the end-of-epoch whole-set cost pass**
(the notes' ``TSEcost`` loop; what ``cmlp.Network.fit`` does), for every implementation.

Parameters are exchanged in the notes' layout: ``[W_1, b_1, W_2, b_2, ...]`` with
``W_i`` of shape ``(n_{i-1}, n_i)`` and ``b_i`` of shape ``(n_i,)``.

Each implementation is a small class:

- ``supports(case, dtype)`` -> None, or a short reason why the cell is not run;
- ``setup(case, dtype, params, X, T, labels, seed)``: copy the parameters in, build;
- ``run_epochs(n)`` -> list of ``n`` per-epoch wall times in seconds (train + cost pass);
- ``get_params()`` -> list of NumPy arrays in the notes' layout;
- ``make_forward(case, dtype, params)`` -> callable ``X -> outputs`` for inference, or None;
- ``compile_seconds``: one-off compile time of the last ``setup`` (JAX), else None.
"""
import inspect
import itertools
import time
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- recipes


@dataclass(frozen=True)
class Case:
    """One training configuration (recipe + batch size)."""

    recipe: str          # "A", "Bsgd" or "B"
    batch: int           # rows per step
    hidden: str          # "sigmoid" or "relu"
    output: str          # "sigmoid" or "softmax"
    loss: str            # "tse" or "cross_entropy"
    lr: float
    momentum: float      # 0: plain SGD
    shuffle: bool        # a fresh permutation every epoch

    @property
    def key(self):
        return f"{self.recipe}/b{self.batch}"

    def describe(self):
        if self.recipe == "A":
            return (f"recipe A (the notes: sigmoid/TSE, plain SGD lr {self.lr:g}, rows in a "
                    f"fixed order), batch {self.batch}")
        opt = f"momentum {self.momentum:g}" if self.momentum else "plain SGD"
        return (f"recipe {self.recipe} (ReLU, softmax + cross-entropy, {opt}, lr {self.lr:g}, "
                f"shuffled every epoch), batch {self.batch}")


def make_case(recipe, batch):
    if recipe == "A":
        return Case("A", batch, "sigmoid", "sigmoid", "tse", 0.3, 0.0, False)
    if recipe == "Bsgd":
        return Case("Bsgd", batch, "relu", "softmax", "cross_entropy", 0.05, 0.0, True)
    if recipe == "B":
        return Case("B", batch, "relu", "softmax", "cross_entropy", 0.05, 0.9, True)
    raise ValueError(f"unknown recipe {recipe!r}; expected 'A', 'Bsgd' or 'B'")


def initial_params(layers, recipe, seed, dtype):
    """The same initial parameters for every implementation.

    Recipe A: the notes' ``W = 0.5 - U[0, 1)``, zero biases, drawn ``W_1, W_2, ...`` from
    ``np.random.default_rng(seed)`` (what ``cmlp.Network(init="uniform", seed=seed)`` draws).
    Recipes B: He normal ``N(0, 2 / n_in)`` (the notes' uniform weights make a ReLU network
    diverge at these learning rates). Drawn in float64, then cast to ``dtype``.
    """
    rng = np.random.default_rng(seed)
    out = []
    for n_in, n_out in itertools.pairwise(layers):
        if recipe == "A":
            W = 0.5 - rng.random((n_in, n_out))
        else:
            W = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        out += [np.ascontiguousarray(W, dtype), np.zeros(n_out, dtype)]
    return out


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax_rows(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _np_forward(params, X, case):
    """Batched forward, (N, n_0) -> (N, n_L); the plain ``X @ W`` chain."""
    a = X
    L = len(params) // 2
    for i in range(L):
        n = a @ params[2 * i] + params[2 * i + 1]
        if i < L - 1:
            a = _sigmoid(n) if case.hidden == "sigmoid" else np.maximum(n, 0)
        else:
            a = _sigmoid(n) if case.output == "sigmoid" else _softmax_rows(n)
    return a


def _np_cost(params, X, T, case, block=2000):
    """Whole-set cost: TSE summed over rows (A) or mean cross-entropy (B), in blocks."""
    total = 0.0
    for s in range(0, X.shape[0], block):
        Y = _np_forward(params, X[s:s + block], case)
        Tb = T[s:s + block]
        if case.loss == "tse":
            total += float(((Tb - Y) ** 2).sum())
        else:
            eps = np.finfo(Y.dtype).eps
            total -= float((Tb * np.log(np.clip(Y, eps, 1 - eps))).sum())
    return total if case.loss == "tse" else total / X.shape[0]


class Impl:
    """Base class: an implementation timed by ``compare.py``."""

    name = "?"
    group = "?"
    slow_batch1 = False   # per-sample training only on --slow-rows rows (it is slow)
    compile_seconds = None

    def supports(self, case, dtype):
        return None

    def rows_for(self, case, n_rows, slow_rows):
        return min(n_rows, slow_rows) if (self.slow_batch1 and case.batch == 1) else n_rows

    def run_epochs(self, n):
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.last_cost = self.epoch()
            times.append(time.perf_counter() - t0)
        return times

    def make_forward(self, case, dtype, params, X):
        """A callable running inference over ``X`` (data already converted), or None."""
        return

    def _perm(self, N):
        return self.rng.permutation(N)


# --------------------------------------------------------------------------- cmlp


def cmlp_extra_fit_kwargs(case, n_threads):
    """Keyword arguments cmlp's ``fit`` needs for ``case``; None if cmlp cannot run it.

    The single place to adapt as ``Network.fit`` grows: momentum goes in as
    ``optimizer=cmlp.optim.Momentum(momentum=mu)`` when ``fit`` takes ``optimizer`` (or as
    ``momentum=mu`` if ``fit`` takes that), threads as ``n_threads=`` when ``fit`` takes it.
    """
    import cmlp
    fit_params = inspect.signature(cmlp.Network.fit).parameters
    kw = {}
    if case.momentum:
        optim = getattr(cmlp, "optim", None)
        if optim is None:
            try:
                from cmlp import optim
            except ImportError:
                optim = None
        if "optimizer" in fit_params and hasattr(optim, "Momentum"):
            kw["optimizer"] = optim.Momentum(lr=case.lr, momentum=case.momentum)
        elif "momentum" in fit_params:
            kw["momentum"] = case.momentum
        else:
            return None
    if "n_threads" in fit_params:
        kw["n_threads"] = n_threads
    return kw


class CmlpImpl(Impl):
    name = "cmlp"
    group = "cmlp"

    def __init__(self, n_threads=1):
        import cmlp
        self.cmlp = cmlp
        self.n_threads = n_threads
        self.fit_overhead = None

    def supports(self, case, dtype):
        if cmlp_extra_fit_kwargs(case, self.n_threads) is None:
            return "n/a (not implemented)"
        return None

    def setup(self, case, dtype, params, X, T, labels, seed):
        layers = [params[0].shape[0]] + [params[2 * i].shape[1] for i in range(len(params) // 2)]
        self.net = self.cmlp.Network(layers, activation=case.hidden, output=case.output,
                                     loss=case.loss, dtype=dtype, seed=seed)
        self.net.params = np.concatenate([p.ravel() for p in params])
        self.case, self.X, self.T = case, X, T
        self.kw = cmlp_extra_fit_kwargs(case, self.n_threads)

    def run_epochs(self, n):
        # cmlp times its own epochs (History.seconds: training + the whole-set cost pass);
        # what the call costs beyond them (input checks, copies) is kept apart.
        t0 = time.perf_counter()
        h = self.net.fit(self.X, self.T, epochs=n, lr=self.case.lr, batch_size=self.case.batch,
                         shuffle=self.case.shuffle, verbose=0, **self.kw)
        wall = time.perf_counter() - t0
        secs = [float(s) for s in h.seconds]
        self.fit_overhead = (wall - sum(secs)) / n
        self.last_cost = float(h.cost[-1])
        return secs

    def get_params(self):
        out = []
        for W, b in zip(self.net.weights, self.net.biases):
            out += [np.array(W), np.array(b)]
        return out

    def make_forward(self, case, dtype, params, X):
        self.setup(case, dtype, params, None, None, None, 0)
        net = self.net
        import cmlp
        if "n_threads" in inspect.signature(cmlp.Network.forward).parameters:
            return lambda: net.forward(X, n_threads=self.n_threads)
        return lambda: net.forward(X)


# --------------------------------------------------------------------------- NumPy


class NotesLoop(Impl):
    """The notes' training cell, literally: column vectors, ``np.diagflat``, then the
    end-of-epoch ``TSEcost`` loop one row at a time."""

    name = "notes (NumPy, literal)"
    group = "numpy"
    slow_batch1 = True

    def supports(self, case, dtype):
        if case.recipe != "A" or case.batch != 1:
            return "n/a (the notes' cell is recipe A, batch 1)"
        return None

    def setup(self, case, dtype, params, X, T, labels, seed):
        self.W1, self.b1, self.W2, self.b2, self.W3, self.b3 = [
            p.reshape(-1, 1) if p.ndim == 1 else p.copy() for p in params]
        self.b1, self.b2, self.b3 = self.b1.copy(), self.b2.copy(), self.b3.copy()
        self.X_train = X
        self.y_train = np.ascontiguousarray(T.T)   # the notes' (10, N_train)
        self.alpha = case.lr if dtype == np.float64 else np.float32(case.lr)
        self.two = 2 if dtype == np.float64 else np.float32(2)

    def epoch(self):
        def sigmoid(x):
            return 1 / (1 + np.exp(-x))

        def Diff_sigmoid(x):
            return sigmoid(x) * (1 - sigmoid(x))

        W1, W2, W3, b1, b2, b3 = self.W1, self.W2, self.W3, self.b1, self.b2, self.b3
        X_train, y_train, alpha = self.X_train, self.y_train, self.alpha
        N_train = X_train.shape[0]
        for j in range(N_train):   # rows in their given (fixed) order
            a0 = X_train[[j], :].T
            n1 = W1.T @ a0 + b1
            a1 = sigmoid(n1)
            n2 = W2.T @ a1 + b2
            a2 = sigmoid(n2)
            n3 = W3.T @ a2 + b3
            a3 = sigmoid(n3)
            y = a3
            error = y_train[:, [j]] - y
            A3 = np.diagflat(Diff_sigmoid(n3))
            A2 = np.diagflat(Diff_sigmoid(n2))
            A1 = np.diagflat(Diff_sigmoid(n1))
            S3 = -self.two * A3 @ error
            S2 = A2 @ W3 @ S3
            S1 = A1 @ W2 @ S2
            W3 = W3 - alpha * a2 @ S3.T
            W2 = W2 - alpha * a1 @ S2.T
            W1 = W1 - alpha * a0 @ S1.T
            b3 = b3 - alpha * S3
            b2 = b2 - alpha * S2
            b1 = b1 - alpha * S1
        TSEcost = 0.0
        for j in range(N_train):
            a0 = X_train[[j], :].T
            n1 = W1.T @ a0 + b1
            a1 = sigmoid(n1)
            n2 = W2.T @ a1 + b2
            a2 = sigmoid(n2)
            n3 = W3.T @ a2 + b3
            a3 = sigmoid(n3)
            y = a3
            error = y_train[:, [j]] - y
            TSEcost += (error * error).sum()
        self.W1, self.W2, self.W3, self.b1, self.b2, self.b3 = W1, W2, W3, b1, b2, b3
        return float(TSEcost)

    def get_params(self):
        return [self.W1, self.b1.ravel(), self.W2, self.b2.ravel(), self.W3, self.b3.ravel()]


class NumpyLoop(Impl):
    """Per-sample SGD in NumPy, vectorised: 1-D arrays, ``A`` as an elementwise product,
    ``np.outer`` updates in place; the cost pass is the batched ``X @ W`` chain."""

    name = "NumPy per-sample (vectorised)"
    group = "numpy"

    def supports(self, case, dtype):
        if case.batch != 1:
            return "n/a (batch 1 only)"
        if case.momentum:
            return "n/a (plain SGD only)"
        return None

    def setup(self, case, dtype, params, X, T, labels, seed):
        self.p = [p.copy() for p in params]
        self.case, self.X, self.T = case, X, T
        self.lr = dtype.type(case.lr)
        self.rng = np.random.default_rng(seed)

    def epoch(self):
        case, p, lr = self.case, self.p, self.lr
        L = len(p) // 2
        N = self.X.shape[0]
        order = self._perm(N) if case.shuffle else range(N)
        sig = case.hidden == "sigmoid"
        for k in order:
            a = [self.X[k]]
            for i in range(L):
                n = a[-1] @ p[2 * i] + p[2 * i + 1]
                if i < L - 1:
                    a.append(_sigmoid(n) if sig else np.maximum(n, 0))
                else:
                    a.append(_sigmoid(n) if case.output == "sigmoid" else _softmax_rows(n))
            t, y = self.T[k], a[-1]
            if case.loss == "tse":
                S = -2 * (y * (1 - y)) * (t - y)     # S_L = -2 A_L e, A_L as a vector
            else:
                S = y - t                            # softmax + cross-entropy
            for i in range(L - 1, -1, -1):
                W, b = p[2 * i], p[2 * i + 1]
                if i > 0:
                    ai = a[i]
                    dA = ai * (1 - ai) if sig else (ai > 0).astype(ai.dtype)
                    S_prev = dA * (W @ S)            # S_{i-1} = A_{i-1} W_i S_i
                W -= lr * np.outer(a[i], S)
                b -= lr * S
                if i > 0:
                    S = S_prev
        return _np_cost(p, self.X, self.T, case)

    def get_params(self):
        return self.p

    def make_forward(self, case, dtype, params, X):
        p = [q.copy() for q in params]
        return lambda: _np_forward(p, X, case)


class NumpyBatch(Impl):
    """Minibatch SGD (optionally momentum) in NumPy with matrix products (OpenBLAS)."""

    name = "NumPy minibatch (BLAS)"
    group = "numpy"

    def supports(self, case, dtype):
        if case.batch == 1:
            return "n/a (see the per-sample loop)"
        return None

    def setup(self, case, dtype, params, X, T, labels, seed):
        self.p = [p.copy() for p in params]
        self.v = [np.zeros_like(q) for q in params] if case.momentum else None
        self.case, self.X, self.T = case, X, T
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)

    def epoch(self):
        case, p = self.case, self.p
        L = len(p) // 2
        N, B = self.X.shape[0], case.batch
        perm = self._perm(N) if case.shuffle else None
        sig = case.hidden == "sigmoid"
        for s in range(0, N, B):
            if perm is None:
                Xb, Tb = self.X[s:s + B], self.T[s:s + B]
            else:
                idx = perm[s:s + B]
                Xb, Tb = self.X[idx], self.T[idx]
            m = Xb.shape[0]
            a = [Xb]
            for i in range(L):
                n = a[-1] @ p[2 * i] + p[2 * i + 1]
                if i < L - 1:
                    a.append(_sigmoid(n) if sig else np.maximum(n, 0))
                else:
                    a.append(_sigmoid(n) if case.output == "sigmoid" else _softmax_rows(n))
            Y = a[-1]
            S = -2 * (Y * (1 - Y)) * (Tb - Y) if case.loss == "tse" else Y - Tb
            step = self.dtype.type(case.lr / m)
            for i in range(L - 1, -1, -1):
                W, b = p[2 * i], p[2 * i + 1]
                if i > 0:
                    ai = a[i]
                    dA = ai * (1 - ai) if sig else (ai > 0).astype(ai.dtype)
                    S_prev = dA * (S @ W.T)
                gW, gb = a[i].T @ S, S.sum(axis=0)
                if self.v is None:
                    W -= step * gW
                    b -= step * gb
                else:   # v = mu v + mean gradient; p -= lr v
                    vW, vb = self.v[2 * i], self.v[2 * i + 1]
                    vW *= case.momentum
                    vW += gW / m
                    vb *= case.momentum
                    vb += gb / m
                    W -= self.dtype.type(case.lr) * vW
                    b -= self.dtype.type(case.lr) * vb
                if i > 0:
                    S = S_prev
        return _np_cost(p, self.X, self.T, case)

    def get_params(self):
        return self.p


# --------------------------------------------------------------------------- PyTorch


def _torch():
    import torch
    return torch


def _torch_dtype(dtype):
    torch = _torch()
    return torch.float64 if dtype == np.float64 else torch.float32


class TorchAutograd(Impl):
    """``torch.nn`` + autograd + ``torch.optim.SGD`` (momentum when the recipe has it)."""

    name = "PyTorch autograd + optim.SGD"
    group = "torch"

    def setup(self, case, dtype, params, X, T, labels, seed):
        torch = _torch()
        nn = torch.nn
        L = len(params) // 2
        mods = []
        for i in range(L):
            W, b = params[2 * i], params[2 * i + 1]
            lin = nn.Linear(W.shape[0], W.shape[1], dtype=_torch_dtype(dtype))
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))
            mods.append(lin)
            if i < L - 1:
                mods.append(nn.Sigmoid() if case.hidden == "sigmoid" else nn.ReLU())
            elif case.output == "sigmoid":
                mods.append(nn.Sigmoid())
            # softmax output: the model gives logits; cross_entropy applies log-softmax
        self.model = nn.Sequential(*mods)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=case.lr, momentum=case.momentum)
        self.case = case
        self.X, self.T = torch.from_numpy(X), torch.from_numpy(T)
        self.labels = torch.from_numpy(labels)
        self.gen = torch.Generator().manual_seed(seed)

    def _loss(self, out, t, lab):
        torch = _torch()
        if self.case.loss == "tse":
            return ((t - out) ** 2).sum() / out.shape[0]    # mean over the batch of ||t-y||^2
        return torch.nn.functional.cross_entropy(out, lab)

    def epoch(self):
        torch = _torch()
        X, T, lab, B = self.X, self.T, self.labels, self.case.batch
        N = X.shape[0]
        model, opt = self.model, self.opt
        if self.case.shuffle:
            perm = torch.randperm(N, generator=self.gen)
            X, T, lab = X[perm], T[perm], lab[perm]
        for s in range(0, N, B):
            opt.zero_grad(set_to_none=True)
            loss = self._loss(model(X[s:s + B]), T[s:s + B], lab[s:s + B])
            loss.backward()
            opt.step()
        with torch.no_grad():
            out = model(self.X)
            if self.case.loss == "tse":
                return float(((self.T - out) ** 2).sum())
            return float(torch.nn.functional.cross_entropy(out, self.labels))

    def get_params(self):
        out = []
        for m in self.model:
            if hasattr(m, "weight"):
                out += [m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()]
        return out

    def make_forward(self, case, dtype, params, X):
        torch = _torch()
        self.setup(case, dtype, params, np.zeros((1, params[0].shape[0]), dtype),
                   np.zeros((1, params[-1].shape[0]), dtype), np.zeros(1, np.int64), 0)
        model, Xt = self.model, torch.from_numpy(X)

        def fwd():
            with torch.no_grad():
                return model(Xt)
        return fwd


class TorchHand(Impl):
    """PyTorch tensors, hand-written backprop: ``addmv``/``addr_`` per sample, ``addmm``/
    ``addmm_`` per minibatch; no autograd."""

    name = "PyTorch hand-written"
    group = "torch"

    def setup(self, case, dtype, params, X, T, labels, seed):
        torch = _torch()
        self.p = [torch.from_numpy(q.copy()) for q in params]
        self.v = [torch.zeros_like(q) for q in self.p] if case.momentum else None
        self.case = case
        self.X, self.T = torch.from_numpy(X), torch.from_numpy(T)
        self.gen = torch.Generator().manual_seed(seed)

    def _act(self, n, last):
        torch = _torch()
        kind = self.case.output if last else self.case.hidden
        if kind == "sigmoid":
            return torch.sigmoid(n)
        if kind == "relu":
            return torch.relu(n)
        return torch.softmax(n, dim=-1)

    def _dact(self, a):
        if self.case.hidden == "sigmoid":
            return a * (1 - a)
        return (a > 0).to(a.dtype)

    def epoch(self):
        torch = _torch()
        case, p = self.case, self.p
        X, T, B, L = self.X, self.T, case.batch, len(p) // 2
        N = X.shape[0]
        if case.shuffle:
            perm = torch.randperm(N, generator=self.gen)
            X, T = X[perm], T[perm]
        lr = case.lr
        with torch.no_grad():
            if B == 1 and self.v is None:
                for k in range(N):
                    a = [X[k]]
                    for i in range(L):   # n_i = W_i^T a_{i-1} + b_i
                        a.append(self._act(torch.addmv(p[2 * i + 1], p[2 * i].t(), a[-1]),
                                           i == L - 1))
                    y, t = a[-1], T[k]
                    S = -2 * y * (1 - y) * (t - y) if case.loss == "tse" else y - t
                    for i in range(L - 1, -1, -1):
                        W, b = p[2 * i], p[2 * i + 1]
                        if i > 0:
                            S_prev = self._dact(a[i]) * torch.mv(W, S)
                        W.addr_(a[i], S, alpha=-lr)
                        b.add_(S, alpha=-lr)
                        if i > 0:
                            S = S_prev
            else:
                for s in range(0, N, B):
                    Xb, Tb = X[s:s + B], T[s:s + B]
                    m = Xb.shape[0]
                    a = [Xb]
                    for i in range(L):
                        a.append(self._act(torch.addmm(p[2 * i + 1], a[-1], p[2 * i]),
                                           i == L - 1))
                    Y = a[-1]
                    S = -2 * Y * (1 - Y) * (Tb - Y) if case.loss == "tse" else Y - Tb
                    for i in range(L - 1, -1, -1):
                        W, b = p[2 * i], p[2 * i + 1]
                        if i > 0:
                            S_prev = self._dact(a[i]) * torch.mm(S, W.t())
                        if self.v is None:
                            W.addmm_(a[i].t(), S, alpha=-lr / m)
                            b.add_(S.sum(0), alpha=-lr / m)
                        else:
                            vW, vb = self.v[2 * i], self.v[2 * i + 1]
                            vW.mul_(case.momentum).addmm_(a[i].t(), S, alpha=1.0 / m)
                            vb.mul_(case.momentum).add_(S.sum(0), alpha=1.0 / m)
                            W.add_(vW, alpha=-lr)
                            b.add_(vb, alpha=-lr)
                        if i > 0:
                            S = S_prev
            # whole-set cost pass
            a = self.X
            for i in range(L):
                a = self._act(torch.addmm(p[2 * i + 1], a, p[2 * i]), i == L - 1)
            if case.loss == "tse":
                return float(((self.T - a) ** 2).sum())
            eps = torch.finfo(a.dtype).eps
            return float(-(self.T * torch.log(a.clamp(eps, 1 - eps))).sum() / a.shape[0])

    def get_params(self):
        return [q.numpy().copy() for q in self.p]


# --------------------------------------------------------------------------- JAX


def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)   # float64 cells; float32 arrays stay float32
    return jax


class JaxScan(Impl):
    """JAX: ``jax.grad`` of the batch loss, ``jit`` + ``lax.scan`` over the rows (batch 1)
    or batches, the remainder batch and the cost pass inside the same compiled epoch.
    Compile time is measured apart (``compile_seconds``)."""

    name = "JAX jit + lax.scan"
    group = "jax"

    def setup(self, case, dtype, params, X, T, labels, seed):
        jax = _jax()
        jnp = jax.numpy
        self.case = case
        self.params = [jnp.asarray(q) for q in params]
        self.vel = [jnp.zeros_like(q) for q in self.params] if case.momentum else []
        self.X, self.T = jnp.asarray(X), jnp.asarray(T)
        self.key = jax.random.PRNGKey(seed)
        N, B = X.shape[0], case.batch
        fn = jax.jit(self._build_epoch(case, N, B))
        t0 = time.perf_counter()
        self.compiled = fn.lower(self.params, self.vel, self.key, self.X, self.T).compile()
        self.compile_seconds = time.perf_counter() - t0

    @staticmethod
    def _forward_fn(case):
        jax = _jax()
        jnp = jax.numpy

        def forward(params, X):
            a = X
            L = len(params) // 2
            for i in range(L):
                n = a @ params[2 * i] + params[2 * i + 1]
                if i < L - 1:
                    a = jax.nn.sigmoid(n) if case.hidden == "sigmoid" else jnp.maximum(n, 0)
                elif case.output == "sigmoid":
                    a = jax.nn.sigmoid(n)
                else:
                    a = n    # logits; the loss applies log-softmax
            return a
        return forward

    def _build_epoch(self, case, N, B):
        jax = _jax()
        lax = jax.lax
        forward = self._forward_fn(case)

        def batch_loss(params, Xb, Tb):
            out = forward(params, Xb)
            if case.loss == "tse":
                return ((Tb - out) ** 2).sum() / Xb.shape[0]
            return -(Tb * jax.nn.log_softmax(out, axis=-1)).sum() / Xb.shape[0]

        grad = jax.grad(batch_loss)
        mu = case.momentum

        def step(carry, xt):
            params, vel = carry
            g = grad(params, *xt)
            if mu:
                vel = [mu * v + gi for v, gi in zip(vel, g)]
                params = [p - case.lr * v for p, v in zip(params, vel)]
            else:
                params = [p - case.lr * gi for p, gi in zip(params, g)]
            return (params, vel), None

        nb, rem = divmod(N, B)

        def epoch(params, vel, key, X, T):
            if case.shuffle:
                key, sub = jax.random.split(key)
                perm = jax.random.permutation(sub, N)
                Xs, Ts = X[perm], T[perm]
            else:
                Xs, Ts = X, T
            Xf = Xs[:nb * B].reshape(nb, B, X.shape[1])
            Tf = Ts[:nb * B].reshape(nb, B, T.shape[1])
            (params, vel), _ = lax.scan(step, (params, vel), (Xf, Tf))
            if rem:
                (params, vel), _ = step((params, vel), (Xs[nb * B:], Ts[nb * B:]))
            out = forward(params, X)
            if case.loss == "tse":
                cost = ((T - out) ** 2).sum()
            else:
                cost = -(T * jax.nn.log_softmax(out, axis=-1)).sum() / N
            return params, vel, key, cost
        return epoch

    def epoch(self):
        self.params, self.vel, self.key, cost = self.compiled(self.params, self.vel, self.key,
                                                              self.X, self.T)
        return float(cost)      # waits for the result

    def get_params(self):
        return [np.asarray(q) for q in self.params]

    def make_forward(self, case, dtype, params, X):
        jax = _jax()
        fwd = jax.jit(self._forward_fn(case))
        p = [jax.numpy.asarray(q) for q in params]
        Xj = jax.numpy.asarray(X)

        def run():
            return fwd(p, Xj).block_until_ready()
        return run


# --------------------------------------------------------------------------- scikit-learn


class SklearnSGD(Impl):
    """``sklearn.neural_network.MLPClassifier(solver="sgd")``, one ``partial_fit`` per
    epoch, then a ``predict_proba`` cost pass. Its output is softmax + cross-entropy, so it
    runs the B recipes only."""

    name = "scikit-learn MLPClassifier sgd"
    group = "sklearn"
    slow_batch1 = True

    def supports(self, case, dtype):
        if case.recipe == "A":
            return "n/a (no sigmoid/TSE output)"
        return None

    def setup(self, case, dtype, params, X, T, labels, seed):
        import warnings

        from sklearn.neural_network import MLPClassifier
        L = len(params) // 2
        hidden = tuple(params[2 * i].shape[1] for i in range(L - 1))
        clf = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="sgd",
                            alpha=0.0, batch_size=case.batch, learning_rate="constant",
                            learning_rate_init=case.lr, momentum=case.momentum,
                            nesterovs_momentum=False, shuffle=case.shuffle,
                            random_state=seed, max_iter=1, tol=0.0, n_iter_no_change=10**9)
        n_out = params[-1].shape[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(X[:1], labels[:1], classes=np.arange(n_out))   # builds the layers
        for i in range(L):   # in place: the optimizer holds references to these arrays
            clf.coefs_[i][...] = params[2 * i]
            clf.intercepts_[i][...] = params[2 * i + 1]
        del clf._optimizer          # fresh optimizer (zero velocity) on the next partial_fit
        self.clf, self.X, self.T, self.labels, self.n_out = clf, X, T, labels, n_out

    def epoch(self):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(self.X, self.labels)
        Y = self.clf.predict_proba(self.X)
        eps = np.finfo(Y.dtype).eps
        return float(-(self.T * np.log(np.clip(Y, eps, 1 - eps))).sum() / self.X.shape[0])

    def get_params(self):
        out = []
        for W, b in zip(self.clf.coefs_, self.clf.intercepts_):
            out += [W.copy(), b.copy()]
        return out


# --------------------------------------------------------------------------- registry

GROUPS = ("numpy", "torch", "jax", "sklearn")


def available(groups, n_threads):
    """Instantiate cmlp and the peers of ``groups``; returns (impls, notes on skipped)."""
    impls, notes = [CmlpImpl(n_threads)], []
    if "numpy" in groups:
        impls += [NotesLoop(), NumpyLoop(), NumpyBatch()]
    if "torch" in groups:
        try:
            import torch
            torch.set_num_threads(n_threads)
            try:
                torch.set_num_interop_threads(1)
            except RuntimeError:
                pass
            impls += [TorchAutograd(), TorchHand()]
        except ImportError:
            notes.append("PyTorch not installed: skipped (pip install torch==2.13.0)")
    if "jax" in groups:
        try:
            _jax()
            impls.append(JaxScan())
        except ImportError:
            notes.append("JAX not installed: skipped (pip install jax jaxlib)")
    if "sklearn" in groups:
        try:
            import sklearn.neural_network  # noqa: F401
            impls.append(SklearnSGD())
        except ImportError:
            notes.append("scikit-learn not installed: skipped (pip install scikit-learn)")
    return impls, notes
