"""``cmlp.optim``: the optimizers ``Network.fit(optimizer=...)`` accepts, as small objects.

Each class only holds validated hyperparameters; the update itself is one in-place C kernel
over the flat parameter buffer and the optimizer's own state arrays (zero at the start of
every ``fit``). The formulas are those of PyTorch's ``torch.optim`` documentation for the
same names, with ``g`` the step's gradient (mean over the batch plus the penalty's gradient)
and ``p`` every weight and bias:

==========  ===================================================================  ==========
name        update                                                               default lr
==========  ===================================================================  ==========
sgd         ``p -= lr g``                                                        0.1
momentum    ``b = mu b + g; p -= lr b`` (``torch.optim.SGD``, dampening 0)       0.1
nesterov    ``b = mu b + g; p -= lr (g + mu b)`` (``SGD(nesterov=True)``)        0.1
adagrad     ``s += g^2; p -= lr g / (sqrt(s) + eps)`` (lr_decay 0, initial       0.01
            accumulator 0, eps 1e-10)
rmsprop     ``v = alpha v + (1 - alpha) g^2; p -= lr g / (sqrt(v) + eps)``       0.01
            (centered False, momentum 0; alpha 0.99, eps 1e-8)
adam        ``m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;``                  0.001
            ``p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``
            (amsgrad False; b1 0.9, b2 0.999, eps 1e-8; t = 1, 2, ... the step)
==========  ===================================================================  ==========

The default learning rates are PyTorch's for adagrad, rmsprop and adam and ``fit``'s
historical 0.1 for the SGD family.

``"lbfgs"`` (:class:`LBFGS`) is different in kind: full-batch L-BFGS through
``scipy.optimize.minimize(method="L-BFGS-B")`` on the flat parameter vector, with no learning
rate and no optimizer state carried between calls; see :meth:`cmlp.Network.fit`.

**Learning-rate precedence** in ``fit(optimizer=obj, lr=...)``: an explicit ``lr`` given to
``fit`` wins; otherwise ``obj.lr`` if it was set; otherwise the default of the table.
A name (``optimizer="adam"``) is the class with its defaults.
"""
from ._validation import check_float, check_int

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "LBFGS",
           "OPTIMIZERS", "get_optimizer"]


class Optimizer:
    """Base class: a name, an optional learning rate and validated hyperparameters."""

    name = None
    default_lr = 0.1

    def __init__(self, lr=None):
        self.lr = None if lr is None else check_float("lr", lr, 0.0, strict=True)

    def hyperparameters(self):
        """The settings beside lr, as keyword arguments of the C optimizer."""
        return {}

    def resolve_lr(self, lr=None):
        """The learning rate a fit uses: ``lr`` if given, else ``self.lr``, else the default."""
        if lr is not None:
            return check_float("lr", lr, 0.0, strict=True)
        return self.lr if self.lr is not None else self.default_lr

    def __repr__(self):
        args = {"lr": self.lr, **self.hyperparameters()}
        inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other):
        return (type(self) is type(other) and self.lr == other.lr
                and self.hyperparameters() == other.hyperparameters())

    __hash__ = None


class SGD(Optimizer):
    """Plain gradient descent, ``p -= lr g`` (``torch.optim.SGD`` without momentum).

    Parameters
    ----------
    lr : float or None
        Learning rate; None: ``fit``'s ``lr`` or 0.1.
    """

    name = "sgd"


class Momentum(Optimizer):
    """Classical momentum as ``torch.optim.SGD(momentum=mu, dampening=0)``:
    ``b = mu b + g; p -= lr b`` (``b`` starts at zero, so the first step is ``b = g``).

    Parameters
    ----------
    lr : float or None
        Learning rate; None: ``fit``'s ``lr`` or 0.1.
    momentum : float in [0, 1), default 0.9
    """

    name = "momentum"

    def __init__(self, lr=None, momentum=0.9):
        super().__init__(lr)
        self.momentum = _fraction("momentum", momentum)

    def hyperparameters(self):
        return {"momentum": self.momentum}


class Nesterov(Momentum):
    """Nesterov momentum as ``torch.optim.SGD(momentum=mu, nesterov=True)``:
    ``b = mu b + g; p -= lr (g + mu b)``.

    Parameters
    ----------
    lr : float or None
        Learning rate; None: ``fit``'s ``lr`` or 0.1.
    momentum : float in [0, 1), default 0.9
    """

    name = "nesterov"


class Adagrad(Optimizer):
    """``torch.optim.Adagrad`` (lr_decay 0, initial_accumulator_value 0):
    ``s += g^2; p -= lr g / (sqrt(s) + eps)``.

    Parameters
    ----------
    lr : float or None
        Learning rate; None: ``fit``'s ``lr`` or 0.01.
    eps : float > 0, default 1e-10
    """

    name = "adagrad"
    default_lr = 0.01

    def __init__(self, lr=None, eps=1e-10):
        super().__init__(lr)
        self.eps = check_float("eps", eps, 0.0, strict=True)

    def hyperparameters(self):
        return {"eps": self.eps}


class RMSprop(Optimizer):
    """``torch.optim.RMSprop`` (centered False, momentum 0):
    ``v = alpha v + (1 - alpha) g^2; p -= lr g / (sqrt(v) + eps)``.

    Parameters
    ----------
    lr : float or None
        Learning rate; None: ``fit``'s ``lr`` or 0.01.
    alpha : float in [0, 1), default 0.99
    eps : float > 0, default 1e-8
    """

    name = "rmsprop"
    default_lr = 0.01

    def __init__(self, lr=None, alpha=0.99, eps=1e-8):
        super().__init__(lr)
        self.alpha = _fraction("alpha", alpha)
        self.eps = check_float("eps", eps, 0.0, strict=True)

    def hyperparameters(self):
        return {"alpha": self.alpha, "eps": self.eps}


class Adam(Optimizer):
    """``torch.optim.Adam`` (amsgrad False, no weight decay): with the step number
    ``t = 1, 2, ...``, ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p -= lr m_hat / (sqrt(v_hat) + eps)``, ``m_hat = m / (1 - b1^t)``,
    ``v_hat = v / (1 - b2^t)``.

    Parameters
    ----------
    lr : float or None
        Learning rate; None: ``fit``'s ``lr`` or 0.001.
    beta1, beta2 : float in [0, 1), default 0.9, 0.999
    eps : float > 0, default 1e-8
    """

    name = "adam"
    default_lr = 0.001

    def __init__(self, lr=None, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1 = _fraction("beta1", beta1)
        self.beta2 = _fraction("beta2", beta2)
        self.eps = check_float("eps", eps, 0.0, strict=True)

    def hyperparameters(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


class LBFGS(Optimizer):
    """Full-batch L-BFGS: ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` on the flat
    parameter vector, with the whole-set cost (plus the ``l2`` penalty) and its gradient
    from the C engine at every evaluation. No learning rate: a line search picks each step.

    ``fit(epochs=k)`` allows at most ``k`` iterations (scipy's ``maxiter``); one iteration
    may evaluate the cost several times (its line search).

    Parameters
    ----------
    tol : float >= 0, default 1e-4
        Stop when every component of the gradient is at most ``tol`` in absolute value
        (scipy's ``gtol``; scikit-learn's MLP passes its ``tol`` there too). scipy also stops
        when the cost changes relatively by less than its ``ftol`` (about 2.2e-9).
        The gradient is that of the whole-set cost: for ``loss="tse"`` a *sum* over rows,
        so it grows with the number of rows.
    max_fun : int >= 1, default 15000
        At most this many evaluations of cost and gradient (scipy's ``maxfun``; scikit-learn's
        default); scipy checks it once per iteration.
    maxcor : int >= 1, default 10
        Correction pairs kept to approximate the inverse Hessian (scipy's ``maxcor``).
    """

    name = "lbfgs"
    default_lr = None

    def __init__(self, tol=1e-4, max_fun=15000, maxcor=10):
        super().__init__(None)
        self.tol = check_float("tol", tol, 0.0)
        self.max_fun = check_int("max_fun", max_fun, 1)
        self.maxcor = check_int("maxcor", maxcor, 1)

    def hyperparameters(self):
        return {"tol": self.tol, "max_fun": self.max_fun, "maxcor": self.maxcor}

    def resolve_lr(self, lr=None):
        if lr is not None:
            raise ValueError(f"lr={lr!r} has no meaning with the lbfgs optimizer (its line "
                             f"search picks every step); leave lr=None")
        return None

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"LBFGS({inner})"


def _fraction(name, value):
    value = check_float(name, value, 0.0)
    if value >= 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Nesterov, Adagrad, RMSprop, Adam, LBFGS)}


def get_optimizer(optimizer):
    """A name from :data:`OPTIMIZERS` or an :class:`Optimizer` -> an :class:`Optimizer`."""
    if isinstance(optimizer, Optimizer):
        if optimizer.name not in OPTIMIZERS:
            raise ValueError(f"optimizer: {type(optimizer).__name__} is not one of cmlp.optim's "
                             f"optimizers {sorted(OPTIMIZERS)}")
        # the attributes are public and may have been set after __init__ checked them: a
        # fresh object of the same settings checks them again
        settings = dict(optimizer.hyperparameters())
        if optimizer.name != "lbfgs":
            settings["lr"] = optimizer.lr
        try:
            return OPTIMIZERS[optimizer.name](**settings)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"optimizer {type(optimizer).__name__}: {exc}") from None
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or a cmlp.optim "
                             f"object, got {optimizer!r}")
        return OPTIMIZERS[optimizer]()
    raise TypeError(f"optimizer must be a name such as 'adam' or a cmlp.optim object such as "
                    f"cmlp.optim.Adam(lr=1e-3), got {type(optimizer).__name__} {optimizer!r}")
