"""``cmlp.History``: what one call of ``fit`` recorded, epoch by epoch."""
from __future__ import annotations

import numpy as np


class ConvergenceWarning(UserWarning):
    """Training ended at its iteration (or evaluation) limit without meeting its convergence
    criterion: :meth:`cmlp.Network.fit` with ``optimizer="lbfgs"``. (The scikit-learn
    estimators raise scikit-learn's own ``ConvergenceWarning`` instead.)"""


class History:
    """Per-epoch record of one :meth:`cmlp.Network.fit` call (a new one per call).

    Attributes
    ----------
    cost : ndarray of float64, shape (n_epochs,)
        The whole-set cost on the training set after each completed epoch, computed with
        that epoch's final weights (the notes' ``TSEcost``: for ``tse`` the sum over rows,
        for ``mse``, ``cross_entropy`` and ``poisson`` the mean; with ``sample_weight`` the
        weighted sum or mean), **plus the penalty**
        ``l1 sum |w| + l2 sum w^2`` when ``fit`` was given ``l1``/``l2`` (``penalty``
        holds that part alone). Dropout is off in this evaluation.
    penalty : ndarray of float64, shape (n_epochs,)
        The penalty part of ``cost`` (zeros without ``l1``/``l2``).
    accuracy : ndarray of float64, shape (n_epochs,)
        For classification networks, the fraction of training rows whose predicted class is
        the target's, after each epoch; empty for regression networks.
    val_cost, val_accuracy : ndarray of float64, shape (n_epochs,)
        The same on the validation set (``validation_data`` or ``validation_split``), with
        the penalty included in ``val_cost`` so that it compares with ``cost``; empty
        without validation data (``val_accuracy`` also for regression networks).
    learning_rates : ndarray of float64, shape (n_epochs,)
        The learning rate used in each epoch (see ``lr_schedule``); NaN for ``"lbfgs"``,
        which has none.
    seconds : ndarray of float64, shape (n_epochs,)
        Wall time of each epoch, evaluation included.
    loss, lr, batch_size, optimizer
        The settings of the call (``lr`` the base learning rate, ``optimizer`` its name).
    stopped : str or None
        Why training ended early: ``"nonfinite"`` (a NaN or infinite loss),
        ``"early_stopping"`` (no improvement of ``val_cost`` for ``patience`` epochs),
        ``"callback"`` (a callback returned False) or ``"lr_schedule"`` (a callable
        schedule gave a bad rate: ``fit`` raised ``ValueError``); with ``optimizer="lbfgs"`` also
        ``"converged"`` (scipy's convergence test was met), ``"max_fun"`` (the evaluation
        limit) or ``"line_search"`` (the line search found no acceptable step); else None
        (every epoch, or every L-BFGS iteration, was run).
    stopped_epoch : int or None
        The 0-based epoch in which it stopped (0 also when L-BFGS stopped inside its first
        iteration, before any epoch was recorded).
    best_epoch : int or None
        With ``early_stopping``: the 0-based epoch of the lowest ``val_cost``, whose weights
        the network holds after ``fit``.
    warnings : list of str
        Conditions that were warned about (e.g. ``"nonfinite"`` with ``on_nonfinite="warn"``,
        ``"not_converged"`` when L-BFGS ended without converging).
    converged : bool or None
        ``optimizer="lbfgs"`` only: whether scipy reported convergence (its ``gtol`` or
        ``ftol`` test); False when it stopped at ``epochs`` iterations, at ``max_fun``
        evaluations, in its line search, or for ``early_stopping``/a callback (a
        :class:`ConvergenceWarning` is issued in the first three cases). None otherwise.
    message : str or None
        ``optimizer="lbfgs"`` only: scipy's termination message.
    n_evaluations : int or None
        ``optimizer="lbfgs"`` only: evaluations of cost and gradient (scipy's ``nfev``);
        each epoch (iteration) takes one or more.
    """

    def __init__(self, loss, lr, batch_size, optimizer="sgd"):
        self.loss = loss
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self._cost = []
        self._seconds = []
        self._penalty = []
        self._accuracy = []
        self._val_cost = []
        self._val_accuracy = []
        self._lrs = []
        self.stopped = None
        self.stopped_epoch = None
        self.best_epoch = None
        self.warnings = []
        self.converged = None
        self.message = None
        self.n_evaluations = None

    @property
    def cost(self) -> np.ndarray:
        return np.array(self._cost, dtype=np.float64)

    @property
    def seconds(self) -> np.ndarray:
        return np.array(self._seconds, dtype=np.float64)

    @property
    def penalty(self) -> np.ndarray:
        return np.array(self._penalty, dtype=np.float64)

    @property
    def accuracy(self) -> np.ndarray:
        return np.array(self._accuracy, dtype=np.float64)

    @property
    def val_cost(self) -> np.ndarray:
        return np.array(self._val_cost, dtype=np.float64)

    @property
    def val_accuracy(self) -> np.ndarray:
        return np.array(self._val_accuracy, dtype=np.float64)

    @property
    def learning_rates(self) -> np.ndarray:
        return np.array(self._lrs, dtype=np.float64)

    @property
    def n_epochs(self) -> int:
        """Number of completed epochs."""
        return len(self._cost)

    def __len__(self):
        return len(self._cost)

    def _append(self, cost, seconds, penalty=0.0, accuracy=None, val_cost=None,
                val_accuracy=None, lr=None):
        self._cost.append(float(cost))
        self._seconds.append(float(seconds))
        self._penalty.append(float(penalty))
        if accuracy is not None:
            self._accuracy.append(float(accuracy))
        if val_cost is not None:
            self._val_cost.append(float(val_cost))
        if val_accuracy is not None:
            self._val_accuracy.append(float(val_accuracy))
        self._lrs.append(float(self.lr if lr is None else lr))

    def _stop(self, reason, epoch):
        self.stopped = reason
        self.stopped_epoch = epoch

    def __repr__(self):
        last = f", final cost {self._cost[-1]:.6g}" if self._cost else ""
        if self._val_cost:
            last += f", val_cost {self._val_cost[-1]:.6g}"
        return f"History({self.n_epochs} epochs, loss={self.loss!r}{last})"
