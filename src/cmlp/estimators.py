"""``cmlp.MLPClassifier`` and ``cmlp.MLPRegressor``: scikit-learn estimators on cmlp's engine.

They take scikit-learn's constructor parameters with scikit-learn's meanings, follow its
estimator conventions (``get_params``/``set_params``, ``clone``, fitted attributes with a
trailing underscore, ``partial_fit``, pickling) and pass
``sklearn.utils.estimator_checks.check_estimator``. The training itself is one call of
:meth:`cmlp.Network.fit` per ``fit`` (``max_iter`` epochs) or ``partial_fit`` (one epoch);
a per-epoch callback keeps scikit-learn's bookkeeping (``loss_curve_``, ``tol`` and
``n_iter_no_change``, the ``"adaptive"`` and ``"invscaling"`` learning rates, early stopping
on a validation score). scikit-learn is needed here (``pip install cmlp[sklearn]``), never by
:class:`cmlp.Network`.

How scikit-learn's MLP maps onto the engine (``B`` the batch size, ``n`` the number of
training rows, after the early-stopping split if any):

=======================  ==================================================================
scikit-learn             cmlp engine
=======================  ==================================================================
``activation``           hidden activation: ``"logistic"`` is ``"sigmoid"``; ``"identity"``,
                         ``"tanh"``, ``"relu"`` keep their names
output layer             classifier: softmax for multiclass targets, one sigmoid unit for
                         binary targets, one sigmoid per label for multilabel targets (as
                         scikit-learn's LabelBinarizer); regressor: identity, or exp with
                         ``loss="poisson"``
``loss="log_loss"``      ``loss="cross_entropy"``: mean over rows of ``-sum t log y``
                         (softmax) or the binary form (sigmoid), y clipped to
                         ``[eps, 1 - eps]``; the same value and gradient as scikit-learn's
``loss="squared_error"`` ``loss="mse"``: mean over rows of ``1/2 ||t - y||^2``, whose gradient
                         is scikit-learn's; the *reported* loss is divided by the number of
                         outputs, as scikit-learn reports it (``0.5 * mean((t - y)**2)`` over
                         rows and outputs)
``loss="poisson"``       ``loss="poisson"`` (regressor): scikit-learn's half Poisson deviance
                         ``sum_k [t log(t / y) - t + y]`` on the exp output, mean over rows
``loss="tse"``           cmlp only: the notes' ``||t - y||^2`` per row; each step descends its
                         mean over the batch, and the reported loss is its mean over the rows
                         (the notes' TSEcost divided by ``n``), so ``tol`` means the same
``alpha``                scikit-learn adds ``alpha W / s`` to each batch gradient of the
                         weights (not the biases), ``s`` the batch's size or, with
                         ``sample_weight``, its weight sum, and ``0.5 alpha ||W||^2 / S`` to
                         the loss (``S`` the same over the training set); the engine's
                         ``l2 = alpha / 2`` with its penalty scaled like the data
                         (``Network.fit``'s private ``_scale_penalty``): exact for every
                         batch, the last, shorter one included
``sample_weight``        ``Network.fit(sample_weight=)``: each step follows the weighted mean
                         ``sum w g / sum w`` of its batch (scikit-learn's); the early-stopping
                         split carries the weights and its score is weighted; ``loss_`` is
                         the weighted loss. A batch of weight 0 makes no step (scikit-learn
                         raises ``ZeroDivisionError``)
``solver="sgd"``         ``cmlp.optim.SGD`` (``momentum=0``), ``Nesterov(momentum)``
                         (``nesterovs_momentum=True``) or ``Momentum(momentum)``; with
                         scikit-learn's velocity ``v = -lr b`` the updates are the same
``solver="adam"``        ``cmlp.optim.Adam(learning_rate_init, beta_1, beta_2, epsilon)``.
                         scikit-learn adds ``epsilon`` to ``sqrt(v)`` before the bias
                         correction, the engine (as torch) to ``sqrt(v_hat)``: identical
                         with ``epsilon -> 0``, and otherwise the engine's step is as
                         scikit-learn's with ``epsilon * sqrt(1 - beta_2**t)``, a difference
                         that vanishes as the step count ``t`` grows
``solver="lbfgs"``       scikit-learn's ``_fit_lbfgs``: ``scipy.optimize.minimize(method=
                         "L-BFGS-B", jac=True)`` from the same initial weights, with
                         ``maxfun=max_fun``, ``maxiter=max_iter``, ``gtol=tol``, on
                         scikit-learn's objective (the mean loss over rows plus
                         ``alpha / (2 n) ||W||^2``; for ``squared_error`` the value divided
                         by the number of outputs, the gradient not, as scikit-learn's),
                         each evaluation one whole-set gradient of the engine (see
                         :meth:`cmlp.Network.fit`). ``n_iter_``, ``loss_`` and the
                         ``ConvergenceWarning`` text are scikit-learn's; as there,
                         ``loss_curve_``, ``best_loss_`` and the validation attributes are
                         not set, ``early_stopping`` is ignored, ``t_`` stays 0, and there is
                         no ``partial_fit``. The same data, weights and settings give the
                         same iterations as scikit-learn's up to rounding
``learning_rate``        a per-epoch ``lr_schedule``: ``"constant"``; ``"invscaling"``:
                         ``learning_rate_init`` in the first epoch of a ``fit``, then
                         ``learning_rate_init / (t_ + 1)**power_t``, with ``t_`` the rows seen
                         so far (scikit-learn updates it after each epoch); ``"adaptive"``:
                         divided by 5 whenever the loss (or the validation score) has not
                         improved by ``tol`` for more than ``n_iter_no_change`` epochs, stop
                         once it is <= 1e-6. Used by ``"sgd"`` only, as in scikit-learn. When
                         the rate changes, momentum's buffer holds past gradients (the
                         engine multiplies it by the new rate) where scikit-learn's velocity
                         holds past steps (made with the old rates)
``batch_size``           ``"auto"``: ``min(200, n)``; larger than ``n``: clipped with
                         scikit-learn's warning
``shuffle``              the engine's shuffling, drawn from a ``np.random.Generator`` seeded
                         from ``random_state``: the orders differ from scikit-learn's
``random_state``         one ``check_random_state`` generator draws, in scikit-learn's order,
                         the initial weights and biases (scikit-learn's Glorot uniform,
                         ``U(-r, r)``, ``r = sqrt(f / (fan_in + fan_out))``, ``f = 2`` for
                         logistic, else 6; biases drawn too: the same numbers as
                         scikit-learn's for the same ``random_state``), the early-stopping
                         split (the same as scikit-learn's), then the seed of the shuffling
``tol``,                 after each epoch, as scikit-learn: a loss that is not below
``n_iter_no_change``     ``best_loss_ - tol`` (or a validation score not above
                         ``best_validation_score_ + tol``) counts one epoch without
                         improvement; more than ``n_iter_no_change`` of them in a row stop
                         training (or divide the ``"adaptive"`` rate by 5)
``early_stopping``       ``validation_fraction`` of the rows held out with
                         ``train_test_split`` (stratified for binary targets), the score
                         (accuracy or R^2) after each epoch in ``validation_scores_``; at the
                         end the weights of the best score are restored
``max_iter``             the epochs of ``Network.fit``; ``ConvergenceWarning`` (scikit-learn's
                         text) when all were run without convergence
``verbose``              scikit-learn's lines (``Iteration k, loss = ...``) on stdout; the
                         engine's progress bar stays off
=======================  ==================================================================

Other differences from ``sklearn.neural_network``:

- ``loss_curve_[k]`` is the loss on the whole training set *after* epoch ``k``, with that
  epoch's final weights (what :class:`cmlp.History` records); scikit-learn records the
  average of the minibatch losses seen *during* the epoch, each with the weights before
  its step. With one batch per epoch, scikit-learn's ``loss_curve_[k + 1]`` is cmlp's
  ``loss_curve_[k]``. Convergence (``tol``) is judged on these values, so ``n_iter_`` may
  differ from scikit-learn's on the same problem.
- ``partial_fit`` runs one epoch of ``Network.fit``; the optimizer state (momentum buffer,
  Adam moments and step count) and the learning rate of ``"invscaling"`` and ``"adaptive"``
  carry over from one call to the next (and through pickling), as scikit-learn's optimizer
  keeps them; ``fit`` starts them afresh.
- Sparse X (``scipy.sparse`` matrices and arrays; CSR and CSC as given, other formats
  converted to CSR) is accepted by ``fit``, ``partial_fit``, ``predict``,
  ``predict_proba``, ``predict_log_proba`` and ``score``, as in scikit-learn, and never
  densified whole (see :meth:`cmlp.Network.fit`): the results equal those on the dense X.
- No ``momentum`` outside ``[0, 1)``.
- ``hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")`` is False, as for the classifier
  (scikit-learn 1.9.1's regressor leaves ``partial_fit`` reachable with lbfgs, a slip of its
  ``available_if`` condition; the classifier's behaviour is the documented one).
- Inputs are converted to ``dtype`` (float64 by default, or float32), which is also the
  precision of every computation and of ``coefs_``.
- Ctrl-C raises ``KeyboardInterrupt`` (scikit-learn turns it into a warning); the weights are
  those of the last completed batch (lbfgs: iteration).
- Divergence is handled as scikit-learn handles it: the epochs go on with NaN or infinite
  losses (``Iteration k, loss = nan``), ``max_iter``'s ``ConvergenceWarning`` comes as usual,
  and a fit that ends with non-finite weights raises scikit-learn's ``ValueError``
  ("Solver produced non-finite parameter weights..."). With ``early_stopping=True`` the
  NaN validation scores are recorded and the best weights restored: no error, as in
  scikit-learn.
- Messages users match on are scikit-learn's words, printed or raised at the same moments:
  the verbose lines (``Iteration k, loss = ...``, ``Validation score: ...``, the
  ``did not improve more than tol=...`` lines with ``Stopping.``, ``Setting learning rate
  to ...`` or ``Learning rate too small. Stopping.``), the ``ConvergenceWarning`` texts,
  ``The validation set is too small...``, the batch-size clipping warning and the
  non-finite-weights ``ValueError``. With lbfgs nothing is printed: scikit-learn passes its
  ``iprint`` only to scipy < 1.15.
- ``coefs_[i]`` and ``intercepts_[i]`` are live views into the network's flat parameter
  buffer: writing into them (``clf.coefs_[0][...] = W``), replacing one
  (``clf.coefs_[0] = W``) or assigning the list (``clf.coefs_ = [...]``) changes the
  predictions, as in scikit-learn (the values are copied in after their shapes are checked).
  ``network_`` is the fitted :class:`cmlp.Network` itself.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

try:
    from sklearn.base import (
        BaseEstimator,
        ClassifierMixin,
        RegressorMixin,
        _fit_context,
        is_classifier,
    )
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils._param_validation import (
        Interval,
        InvalidParameterError,
        Options,
        StrOptions,
    )
    from sklearn.utils.multiclass import (
        check_classification_targets,
        type_of_target,
        unique_labels,
    )
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as exc:  # scikit-learn missing, or older than 1.6 (no validate_data)
    raise ImportError(
        "cmlp.MLPClassifier and cmlp.MLPRegressor need scikit-learn >= 1.6: "
        "pip install cmlp[sklearn]") from exc

from . import optim
from .network import Network, _blas_one_thread, _LBFGSObjective, _minimize_lbfgs, _usable_cpus

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's hidden activation names -> the engine's
_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
# scikit-learn's output activation names -> the engine's
_OUTPUTS = {"softmax": "softmax", "logistic": "sigmoid", "identity": "identity", "exp": "exp"}
# the estimators' loss names -> the engine's
_LOSSES = {"log_loss": "cross_entropy", "squared_error": "mse", "tse": "tse",
           "poisson": "poisson"}
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# sparse X: scipy.sparse CSR and CSC (other formats are converted to CSR by validate_data)
_SPARSE = ["csr", "csc"]


class _ParamList(list):
    """``coefs_`` or ``intercepts_``: a list of views into a network's parameter buffer in
    which replacing an item (``coefs_[0] = W``) copies W into the network, as assigning
    scikit-learn's list item changes its model."""

    def __init__(self, net, attr):
        self._net = net
        self._attr = attr  # "coefs_" or "intercepts_"
        self._which = "weights" if attr == "coefs_" else "biases"
        super().__init__(getattr(net, self._which))

    def assign(self, values):
        """Copy values (one array per layer) into the network: Network's checks of the
        count and the shapes, with this attribute's name in the message."""
        try:
            setattr(self._net, self._which, values)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{self._attr}: {exc}") from None

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            raise TypeError(f"{self._attr} takes one array at a time ({self._attr}[i] = "
                            f"array), not a slice")
        values = list(getattr(self._net, self._which))
        values[index] = value
        self.assign(values)

    def __reduce__(self):  # a pickled copy is a plain list of arrays
        return (list, (list(self),))


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: validation, the network, the training."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"),
                             Options(numbers.Real, {np.inf})],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        "dtype": [StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64}),
                  Options(np.dtype, set(_DTYPES))],
        "n_threads": [None, Interval(numbers.Integral, 1, None, closed="left")],
    }

    # ------------------------------------------------------------------ parameters

    def _validate_params(self):
        """scikit-learn's parameter validation, with a clearer word for a misplaced loss."""
        if not isinstance(self.loss, str) and not is_classifier(self):
            # MLPRegressor((50,)): scikit-learn's signature puts loss first
            raise InvalidParameterError(
                f"The 'loss' parameter of {type(self).__name__} must be 'squared_error', "
                f"'poisson' or 'tse', got {self.loss!r}; loss is the first positional parameter, as in "
                f"scikit-learn: did you mean hidden_layer_sizes={self.loss!r}?")
        super()._validate_params()

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        for s in sizes:
            if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral) or s <= 0:
                raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes}.")
        return [int(s) for s in sizes]

    def _dtype(self):
        return np.dtype(self.dtype)

    def _engine_loss(self):
        return _LOSSES[self.loss]

    # ------------------------------------------------------------------ the network

    def _initialize(self, layers, out_activation, rs):
        """A new network with scikit-learn's initial weights drawn from rs; fresh bookkeeping."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = layers[-1]
        self.n_layers_ = len(layers)
        self.out_activation_ = out_activation
        net = self._new_network(layers)
        # scikit-learn's Glorot uniform: coefs then intercepts, layer by layer, float64 draws
        factor = 2.0 if self.activation == "logistic" else 6.0
        for W, b in zip(net.weights, net.biases):
            fan_in, fan_out = W.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            W[...] = rs.uniform(-bound, bound, (fan_in, fan_out))
            b[...] = rs.uniform(-bound, bound, fan_out)
        self._attach(net)
        self._best_params = net.params.copy()
        if self.solver == "lbfgs":  # scikit-learn keeps no curve or best values for lbfgs
            return
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _new_network(self, layers):
        # seed=0: the engine's own initial draws are overwritten at once; its generator is
        # not used for training either (fit gets a generator of its own each call)
        return Network(layers, activation=_ACTIVATIONS[self.activation],
                       output=_OUTPUTS[self.out_activation_], loss=self._engine_loss(),
                       init="xavier", dtype=self._dtype(), seed=0)

    def _attach(self, net):
        """Make net the fitted network (coefs_/intercepts_ are views into its buffer)."""
        self.network_ = net

    def _param_list(self, attr):
        net = self.__dict__.get("network_")
        if net is None:  # hasattr(est, "coefs_") is False before fitting, as in scikit-learn
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r} "
                                 f"(not fitted)")
        return _ParamList(net, attr)

    def _set_param_list(self, attr, values):
        net = self.__dict__.get("network_")
        if net is None:
            raise AttributeError(f"{attr} can be set only on a fitted estimator: its values "
                                 f"are copied into the fitted network (network_)")
        _ParamList(net, attr).assign(values)

    coefs_ = property(
        lambda self: self._param_list("coefs_"),
        lambda self, values: self._set_param_list("coefs_", values),
        doc="The weight matrices, ``coefs_[i]`` of shape ``(n_i, n_{i+1})``: views into "
            "the fitted network's parameter buffer. Writing into them "
            "(``coefs_[0][...] = W``), replacing one (``coefs_[0] = W``) or assigning "
            "the list (``coefs_ = [...]``) copies the values into the network.")
    intercepts_ = property(
        lambda self: self._param_list("intercepts_"),
        lambda self, values: self._set_param_list("intercepts_", values),
        doc="The bias vectors, ``intercepts_[i]`` of shape ``(n_{i+1},)``: views into the "
            "fitted network's parameter buffer, written as ``coefs_`` is.")

    def _reuse(self, layers):
        """warm_start / partial_fit: keep the weights; rebuild the network only if settings
        that the engine fixes at construction (activation, loss, dtype) changed."""
        net = self.network_
        if list(net.layers) != list(layers):
            raise ValueError(
                f"warm_start and partial_fit keep the fitted network, whose layer sizes are "
                f"{list(net.layers)}; this data and hidden_layer_sizes need {list(layers)}. "
                f"Set warm_start=False (or call fit) to start a new network.")
        wanted = (_ACTIVATIONS[self.activation], self._engine_loss(), self._dtype())
        hidden = net.activations[:-1]
        out = self._out_activation()
        if out != self.out_activation_:
            raise ValueError(
                f"warm_start and partial_fit keep the fitted network, whose output activation "
                f"is {self.out_activation_!r}; loss={self.loss!r} needs {out!r}. Set "
                f"warm_start=False (or call fit) to start a new network.")
        if (hidden and hidden[0] != wanted[0]) or net.loss != wanted[1] or \
                net.dtype != wanted[2]:
            new = self._new_network(layers)
            new.params[...] = net.params
            self._attach(new)
            self._best_params = self._best_params.astype(new.dtype)

    # ------------------------------------------------------------------ training

    def _fit(self, X, y, incremental, sample_weight=None):
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, T = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        layers = [X.shape[1], *hidden, T.shape[1]]
        rs = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layers, self._out_activation(), rs)
        else:
            self._reuse(layers)
            if self.solver == "lbfgs":
                pass
            elif not hasattr(self, "loss_curve_"):
                # warm start from an lbfgs fit: start the stochastic bookkeeping
                self.loss_curve_, self._no_improvement_count = [], 0
                self.validation_scores_ = [] if self.early_stopping else None
                self.best_validation_score_ = -np.inf if self.early_stopping else None
                self.best_loss_ = None if self.early_stopping else np.inf
            elif self.early_stopping and self.validation_scores_ is None:
                # warm start switching early stopping on: start its bookkeeping
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
                self.best_loss_ = None
            elif not self.early_stopping and self.best_loss_ is None:
                self.best_loss_ = np.inf
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, T, sample_weight)
        else:
            self._fit_stochastic(X, T, rs, incremental, sample_weight)
        if not np.isfinite(self.network_.params).all():
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        return self

    def _check_solver(self):
        """partial_fit exists for the stochastic solvers only (scikit-learn's message)."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def _fit_lbfgs(self, X, T, sample_weight=None):
        """scikit-learn's ``_fit_lbfgs``: scipy's L-BFGS-B on scikit-learn's objective.

        The objective is scikit-learn's: the mean over rows of the loss plus
        ``alpha / (2 n) sum W^2`` (biases not penalised), whose gradient is the engine's
        mean-over-rows gradient plus ``alpha W / n`` (``l2 = alpha / (2 n)``). For
        ``squared_error`` the *value* is divided by the number of outputs, as scikit-learn's
        squared loss is (its gradient is not: the same mismatch as scikit-learn's, kept so
        that the line search sees the same numbers). Options: ``maxfun=max_fun``,
        ``maxiter=max_iter``, ``gtol=tol``, as scikit-learn passes them.
        """
        net = self.network_
        n, K = T.shape
        X, _ = net._inputs(X, allow_1d=False)  # the network's dtype; sparse X stays sparse
        w = None
        if sample_weight is not None:  # scikit-learn: weighted mean, alpha term / sum of weights
            w = np.ascontiguousarray(sample_weight, dtype=net.dtype)
            n = float(np.sum(sample_weight, dtype=np.float64))
        value_scale = 1.0 / K if self._engine_loss() == "mse" else 1.0
        n_threads = _usable_cpus() if self.n_threads is None else self.n_threads
        opt = optim.LBFGS(tol=self.tol, max_fun=self.max_fun)
        with net._lock, _blas_one_thread():
            objective = _LBFGSObjective(net, X, T, l2=self.alpha / (2.0 * n),
                                        grad_scale=1.0 / n, value_scale=value_scale,
                                        n_threads=n_threads, nonfinite="ignore",
                                        sample_weight=w)
            try:
                res = _minimize_lbfgs(net, objective, self.max_iter, opt)
            finally:
                objective.close()
        self.n_iter_ = min(res.nit, self.max_iter)
        self.loss_ = float(res.fun)
        if res.status != 0:
            msg = (f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                   f"(status={res.status}):\n{res.message}\n")
            if self.n_iter_ == self.max_iter:
                msg += (f"\nIncrease the number of iterations to improve the convergence "
                        f"(max_iter={self.max_iter}).")
            msg += ("\nYou might also want to scale the data as shown in:\n"
                    "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(msg, ConvergenceWarning, stacklevel=4)

    def _optimizer(self):
        if self.solver == "adam":
            return optim.Adam(lr=self.learning_rate_init, beta1=self.beta_1, beta2=self.beta_2,
                              eps=self.epsilon)
        if self.momentum == 0:
            return optim.SGD(lr=self.learning_rate_init)
        cls = optim.Nesterov if self.nesterovs_momentum else optim.Momentum
        return cls(lr=self.learning_rate_init, momentum=self.momentum)

    def _fit_stochastic(self, X, T, rs, incremental, sw=None):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        # scikit-learn keeps its optimizer (and so its current learning rate) between
        # partial_fit calls and makes a new one in every fit
        if not incremental or not hasattr(self, "_learning_rate"):
            self._learning_rate = float(self.learning_rate_init)
        # ... and with it the optimizer's state (momentum buffer, Adam's moments and step)
        if not incremental or not hasattr(self, "_optimizer_state"):
            self._optimizer_state = {}
        val = None
        if self.early_stopping:
            stratify = T.astype(bool) if is_classifier(self) and T.shape[1] == 1 else None
            # the same split as scikit-learn's, which carries the weights along
            arrays = (X, T) if sw is None else (X, T, sw)
            parts = train_test_split(*arrays, random_state=rs,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, T, T_val = parts[:4]
            sw, sw_val = (None, None) if sw is None else parts[4:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            val = (X_val, self._decode(T_val), sw_val)
        n = X.shape[0]
        if self.batch_size == "auto":
            B = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", stacklevel=4)
            B = min(self.batch_size, n)
        # the engine's l2 = alpha / 2 with the penalty scaled per batch like the data:
        # alpha W / (the batch's weight sum), scikit-learn's term (see the module notes)
        l2 = self.alpha / 2.0
        sw_sum = float(n) if sw is None else float(np.sum(sw, dtype=np.float64))
        # the shuffling's generator, drawn after the initial weights and the split
        gen = np.random.default_rng(rs.randint(0, 2**32, size=4, dtype=np.uint64))
        # the engine's reported losses -> scikit-learn's (see the module docstring)
        scale = {"cross_entropy": 1.0, "mse": 1.0 / T.shape[1], "tse": 1.0 / n,
                 "poisson": 1.0}[self._engine_loss()]
        if self._engine_loss() == "tse" and sw is not None:
            scale = 1.0 / sw_sum  # the weighted TSEcost over the weight sum
        sgd = self.solver == "sgd"
        status = {"converged": False}
        self.n_iter_ = 0

        def end_of_epoch(epoch, history):
            data = (history.cost[-1] - history.penalty[-1]) * scale
            sq = sum(float(np.dot(w.ravel(), w.ravel())) for w in self.network_.weights)
            self.loss_ = float(data + 0.5 * self.alpha * sq / sw_sum)
            self.n_iter_ += 1
            self.t_ += n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            self._update_no_improvement_count(val)
            if sgd and self.learning_rate == "invscaling":
                self._learning_rate = float(self.learning_rate_init) / \
                    (self.t_ + 1) ** self.power_t
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if val is not None else "Training loss"
                msg = (f"{what} did not improve more than tol={self.tol:f} for "
                       f"{self.n_iter_no_change} consecutive epochs.")
                if sgd and self.learning_rate == "adaptive":
                    if self._learning_rate > 1e-6:
                        self._learning_rate /= 5.0
                        self._no_improvement_count = 0
                        if self.verbose:
                            print(msg + " Setting learning rate to %f" % self._learning_rate)
                        return None
                    msg += " Learning rate too small."
                if self.verbose:
                    print(msg + " Stopping.")
                status["converged"] = True
                return False
            return None

        # a diverging fit goes on as scikit-learn's does (NaN losses and validation scores);
        # _fit then refuses non-finite weights with scikit-learn's ValueError
        self.network_.fit(
            X, T, epochs=1 if incremental else self.max_iter, lr=self.learning_rate_init,
            batch_size=B, shuffle=bool(self.shuffle), seed=gen, verbose=0,
            optimizer=self._optimizer(), l2=l2, on_nonfinite="warn", _warn_nonfinite=False,
            lr_schedule=lambda epoch: self._learning_rate,
            callbacks=[end_of_epoch], n_threads=self.n_threads, sample_weight=sw,
            _optimizer_state=self._optimizer_state, _scale_penalty=True)
        if not incremental and not status["converged"] and self.n_iter_ == self.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                          "optimization hasn't converged yet." % self.max_iter,
                          ConvergenceWarning, stacklevel=4)
        if self.early_stopping:
            self.network_.params[...] = self._best_params  # the coefs_ views see it

    def _update_no_improvement_count(self, val):
        if val is not None:
            score = self._validation_score(*val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params[...] = self.network_.params
        else:
            loss = self.loss_curve_[-1]
            if loss > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if loss < self.best_loss_:
                self.best_loss_ = loss

    def _validation_score(self, X, y, sample_weight=None):
        """scikit-learn's score on already validated data (weighted by the validation rows'
        weights, as scikit-learn's); NaN for non-finite outputs."""
        Y = self.network_.forward(X, self.n_threads)
        if not np.isfinite(Y).all():
            return np.nan
        return float(self._score_function(y, self._outputs_to_predictions(Y),
                                          sample_weight=sample_weight))

    # ------------------------------------------------------------------ inference

    def _forward(self, X):
        """The network's outputs for X, float64 unless both X and the network are float32
        (NumPy's promotion, as scikit-learn's product of X with its coefficients gives)."""
        check_is_fitted(self)
        float32_input = getattr(X, "dtype", None) == np.float32
        X = validate_data(self, X, accept_sparse=_SPARSE, dtype=self.network_.dtype,
                          reset=False)
        Y = self.network_.forward(X, self.n_threads)
        if Y.dtype == np.float32 and not float32_input:
            Y = Y.astype(np.float64)
        return Y

    # ------------------------------------------------------------------ pickling



class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier, scikit-learn's ``MLPClassifier`` on cmlp's C engine.

    The parameters mean what they mean in ``sklearn.neural_network.MLPClassifier``; see the
    module documentation of :mod:`cmlp.estimators` for how each maps onto
    :meth:`cmlp.Network.fit` and for the differences.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,) or int, default=(100,)
        Sizes of the hidden layers; ``()`` for none.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Hidden activation ("logistic" is the notes' sigmoid).
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        "lbfgs" is full-batch L-BFGS (scipy's L-BFGS-B) on scikit-learn's objective; it has
        no ``partial_fit``.
    alpha : float >= 0, default=1e-4
        L2 penalty on the weights, as scikit-learn defines it.
    batch_size : int or "auto", default="auto"
        Rows per step; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of the "sgd" solver.
    learning_rate_init : float > 0, default=1e-3
    power_t : float >= 0, default=0.5
        Exponent of "invscaling".
    max_iter : int >= 1, default=200
        Epochs at most ("lbfgs": iterations at most).
    shuffle : bool, default=True
    random_state : None, int or numpy.random.RandomState, default=None
        Initial weights, the early-stopping split and the shuffling.
    tol : float >= 0, default=1e-4
        Improvement threshold of the stochastic solvers; for "lbfgs", scipy's ``gtol``.
    verbose : bool or int, default=False
    warm_start : bool, default=False
    momentum : float in [0, 1), default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
    validation_fraction : float in [0, 1), default=0.1
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
    epsilon : float > 0, default=1e-8
    n_iter_no_change : int >= 1 or inf, default=10
    max_fun : int >= 1, default=15000
        "lbfgs" only: evaluations of loss and gradient at most (scipy's ``maxfun``).
    loss : {"log_loss", "tse"}, default="log_loss"
        "log_loss" is scikit-learn's cross-entropy; "tse" the notes' total squared error
        ``||t - y||^2`` between the one-hot targets and the outputs.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the network and of every computation.
    n_threads : int or None, default=None
        Threads for the minibatch gradients and for predictions on large X (None: every
        CPU this process may use); see :meth:`cmlp.Network.fit` and
        :meth:`cmlp.Network.forward`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_, intercepts_ : list of ndarray
        ``coefs_[i]`` of shape ``(n_i, n_{i+1})`` and ``intercepts_[i]`` of shape
        ``(n_{i+1},)``: live views into ``network_.params``.
    network_ : cmlp.Network
        The fitted network.
    loss_ : float
        The loss after the last epoch ("lbfgs": scipy's final value).
    loss_curve_ : list of float
        The loss after each epoch (see the module notes). Not set by "lbfgs", as in
        scikit-learn.
    best_loss_ : float or None
        The lowest of ``loss_curve_`` (None with early stopping). Not set by "lbfgs".
    validation_scores_ : list of float or None
        Accuracy on the validation set after each epoch (early stopping only; NaN for an
        epoch whose outputs are not finite). Not set by "lbfgs".
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``); "lbfgs": iterations.
    t_ : int
        Training rows seen by the solver, ``n_iter_ * n_samples`` summed over calls.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X had string column names.
    n_layers_ : int
    n_outputs_ : int
        Output units: 1 for two classes, else the number of classes (or labels).
    out_activation_ : str
        "softmax" (multiclass) or "logistic" (binary, multilabel).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from cmlp import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(20,), max_iter=500, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"log_loss", "tse"})],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 loss="log_loss", dtype="float64", n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.loss = loss
        self.dtype = dtype
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to X and the class labels y; returns self.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels of any type scikit-learn accepts (strings too), or a multilabel
            indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows (scikit-learn's semantics): each step follows the weighted
            mean of its batch's gradients plus ``alpha W / (the batch's weight sum)``; the
            early-stopping validation rows keep their weights, which weight its score.
            With ``batch_size=1`` a weight only decides whether a row counts (0 or not).
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over X, y (with ``sample_weight`` as in :meth:`fit`); returns self.

        ``classes`` (all the classes of the problem) is required on the first call and may
        be omitted afterwards; y need not contain every class.
        """
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None:
            if not np.array_equal(self.classes_, unique_labels(classes)):
                raise ValueError(f"`classes={classes!r}` is not the same as on the first call "
                                 f"to partial_fit, was: {self.classes_!r}")
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=_SPARSE, multi_output=True,
                             dtype=self._dtype(), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        f"warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        T = self._label_binarizer.transform(y)
        return X, np.ascontiguousarray(T, dtype=self._dtype())

    def _out_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _decode(self, T):
        return self._label_binarizer.inverse_transform(T)

    @staticmethod
    def _score_function(y, y_pred, sample_weight=None):
        return accuracy_score(y, y_pred, sample_weight=sample_weight)

    def _outputs_to_predictions(self, Y):
        if self.n_outputs_ == 1:
            Y = Y.ravel()
        return self._label_binarizer.inverse_transform(Y)

    def predict(self, X):
        """Predicted class labels, of shape (n_samples,) (or (n_samples, n_labels) for
        multilabel targets), from ``classes_``."""
        return self._outputs_to_predictions(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities of shape (n_samples, n_classes), columns in ``classes_`` order
        (for two classes ``[1 - p, p]`` from the single logistic output)."""
        Y = self._forward(X)
        if self.n_outputs_ == 1:
            p = Y.ravel()
            return np.vstack([1 - p, p]).T
        return Y

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        P = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(P, out=P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, scikit-learn's ``MLPRegressor`` on cmlp's C engine.

    Identity output units, one per target column (2-D y gives several outputs). The
    parameters mean what they mean in ``sklearn.neural_network.MLPRegressor`` (see
    :class:`MLPClassifier` for the list and :mod:`cmlp.estimators` for the mapping). As in
    scikit-learn, the first positional parameter is ``loss``: write
    ``MLPRegressor(hidden_layer_sizes=(50,))``, not ``MLPRegressor((50,))``.

    Parameters
    ----------
    loss : {"squared_error", "poisson", "tse"}, default="squared_error"
        "squared_error" is scikit-learn's half squared error, ``1/2 ||t - y||^2`` per row;
        "poisson" its half Poisson deviance ``sum [t log(t / y) - t + y]`` with an exp
        output (log link; targets >= 0); "tse" the notes' ``||t - y||^2``.
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start,
    momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon,
    n_iter_no_change, max_fun, dtype, n_threads
        As :class:`MLPClassifier`.

    Attributes
    ----------
    coefs_, intercepts_, network_, loss_, loss_curve_, best_loss_, validation_scores_,
    best_validation_score_, n_iter_, t_, n_features_in_, feature_names_in_, n_layers_
        As :class:`MLPClassifier` (the validation score is R^2).
    n_outputs_ : int
        Number of target columns.
    out_activation_ : str
        "identity", or "exp" with ``loss="poisson"``.

    Examples
    --------
    >>> import numpy as np
    >>> from cmlp import MLPRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(20,), activation="tanh", batch_size=20,
    ...                    learning_rate_init=0.01, random_state=0)
    >>> reg.fit(X, X.ravel() ** 2).score(X, X.ravel() ** 2) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson", "tse"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype="float64", n_threads=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to X and the targets y (1-D, or 2-D for several outputs), with
        optional ``sample_weight`` (n_samples,) as :meth:`MLPClassifier.fit`; returns self."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over X, y (with ``sample_weight`` as in :meth:`fit`); returns self."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=_SPARSE, multi_output=True,
                             y_numeric=True, dtype=self._dtype(), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        T = y.reshape(-1, 1) if y.ndim == 1 else y
        return X, np.ascontiguousarray(T, dtype=self._dtype())

    def _out_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    @staticmethod
    def _decode(T):
        return T.ravel() if T.shape[1] == 1 else T

    @staticmethod
    def _score_function(y, y_pred, sample_weight=None):
        return r2_score(y, y_pred, sample_weight=sample_weight)

    @staticmethod
    def _outputs_to_predictions(Y):
        return Y.ravel() if Y.shape[1] == 1 else Y

    def predict(self, X):
        """Predicted values, of shape (n_samples,) for one target column, else
        (n_samples, n_outputs)."""
        return self._outputs_to_predictions(self._forward(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags
