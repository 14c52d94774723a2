"""``cmlp.History``: what one call of ``fit`` recorded, epoch by epoch."""
import numpy as np


class History:
    """Per-epoch record of one :meth:`cmlp.Network.fit` call (a new one per call).

    Attributes
    ----------
    cost : ndarray of float64, shape (n_epochs,)
        The whole-set cost on the training set after each completed epoch, computed with
        that epoch's final weights (the notes' ``TSEcost``: for ``tse`` the sum over rows,
        for ``mse`` and ``cross_entropy`` the mean).
    seconds : ndarray of float64, shape (n_epochs,)
        Wall time of each epoch, cost pass included.
    loss, lr, batch_size
        The settings of the call.
    stopped : str or None
        Why training ended early: ``"nonfinite"`` (a NaN or infinite loss), else None.
    stopped_epoch : int or None
        The 0-based epoch in which it stopped.
    warnings : list of str
        Conditions that were warned about (e.g. ``"nonfinite"`` with ``on_nonfinite="warn"``).
    """

    def __init__(self, loss, lr, batch_size):
        self.loss = loss
        self.lr = lr
        self.batch_size = batch_size
        self._cost = []
        self._seconds = []
        self.stopped = None
        self.stopped_epoch = None
        self.warnings = []

    @property
    def cost(self):
        return np.array(self._cost, dtype=np.float64)

    @property
    def seconds(self):
        return np.array(self._seconds, dtype=np.float64)

    @property
    def n_epochs(self):
        """Number of completed epochs."""
        return len(self._cost)

    def __len__(self):
        return len(self._cost)

    def _append(self, cost, seconds):
        self._cost.append(float(cost))
        self._seconds.append(float(seconds))

    def _stop(self, reason, epoch):
        self.stopped = reason
        self.stopped_epoch = epoch

    def __repr__(self):
        last = f", final cost {self._cost[-1]:.6g}" if self._cost else ""
        return f"History({self.n_epochs} epochs, loss={self.loss!r}{last})"
