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
                         scikit-learn's LabelBinarizer); regressor: identity
``loss="log_loss"``      ``loss="cross_entropy"``: mean over rows of ``-sum t log y``
                         (softmax) or the binary form (sigmoid), y clipped to
                         ``[eps, 1 - eps]``; the same value and gradient as scikit-learn's
``loss="squared_error"`` ``loss="mse"``: mean over rows of ``1/2 ||t - y||^2``, whose gradient
                         is scikit-learn's; the *reported* loss is divided by the number of
                         outputs, as scikit-learn reports it (``0.5 * mean((t - y)**2)`` over
                         rows and outputs)
``loss="tse"``           cmlp only: the notes' ``||t - y||^2`` per row; each step descends its
                         mean over the batch, and the reported loss is its mean over the rows
                         (the notes' TSEcost divided by ``n``), so ``tol`` means the same
``alpha``                scikit-learn adds ``alpha W / B`` to each batch gradient of the
                         weights (not the biases) and ``0.5 alpha ||W||^2 / n`` to the loss;
                         the engine's ``l2`` adds ``2 l2 W``, so ``l2 = alpha / (2 B)``:
                         exact for every full batch; the last, shorter batch of an epoch
                         (when ``B`` does not divide ``n``) gets ``alpha W / B`` instead of
                         scikit-learn's ``alpha W / n_last``. The reported loss uses
                         scikit-learn's ``0.5 alpha ||W||^2 / n``
``solver="sgd"``         ``cmlp.optim.SGD`` (``momentum=0``), ``Nesterov(momentum)``
                         (``nesterovs_momentum=True``) or ``Momentum(momentum)``; with
                         scikit-learn's velocity ``v = -lr b`` the updates are the same
``solver="adam"``        ``cmlp.optim.Adam(learning_rate_init, beta_1, beta_2, epsilon)``.
                         scikit-learn adds ``epsilon`` to ``sqrt(v)`` before the bias
                         correction, the engine (as torch) to ``sqrt(v_hat)``: identical
                         with ``epsilon -> 0``, and otherwise the engine's step is as
                         scikit-learn's with ``epsilon * sqrt(1 - beta_2**t)``, a difference
                         that vanishes as the step count ``t`` grows
``solver="lbfgs"``       not yet supported: refused with a ``ValueError``
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
- No ``sample_weight``, no ``"poisson"`` loss, ``momentum`` in ``[0, 1)``.
- Inputs are converted to ``dtype`` (float64 by default, or float32), which is also the
  precision of every computation and of ``coefs_``.
- Ctrl-C raises ``KeyboardInterrupt`` (scikit-learn turns it into a warning); the weights are
  those of the last completed batch. A loss that becomes NaN or infinite stops training with
  scikit-learn's ``ValueError`` ("Solver produced non-finite parameter weights...").
- ``coefs_[i]`` and ``intercepts_[i]`` are live views into the network's flat parameter
  buffer: writing into them (``clf.coefs_[0][...] = W``) changes the predictions.
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
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # scikit-learn missing, or older than 1.6 (no validate_data)
    raise ImportError(
        "cmlp.MLPClassifier and cmlp.MLPRegressor need scikit-learn >= 1.6: "
        "pip install cmlp[sklearn]") from exc

from . import optim
from .network import Network

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's hidden activation names -> the engine's
_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
# scikit-learn's output activation names -> the engine's
_OUTPUTS = {"softmax": "softmax", "logistic": "sigmoid", "identity": "identity"}
# the estimators' loss names -> the engine's
_LOSSES = {"log_loss": "cross_entropy", "squared_error": "mse", "tse": "tse"}
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# sparse X: scipy.sparse CSR and CSC (other formats are converted to CSR by validate_data)
_SPARSE = ["csr", "csc"]


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: validation, the network, the training."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "solver": [StrOptions({"sgd", "adam"})],
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
        """scikit-learn's parameter validation, with a clearer word for solver='lbfgs'."""
        if isinstance(self.solver, str) and self.solver == "lbfgs":
            raise InvalidParameterError(
                f"The 'solver' parameter of {type(self).__name__}: 'lbfgs' is not supported "
                f"by cmlp yet; use solver='adam' or solver='sgd'.")
        if not isinstance(self.loss, str) and not is_classifier(self):
            # MLPRegressor((50,)): scikit-learn's signature puts loss first
            raise InvalidParameterError(
                f"The 'loss' parameter of {type(self).__name__} must be 'squared_error' or "
                f"'tse', got {self.loss!r}; loss is the first positional parameter, as in "
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
        """Make net the fitted network; coefs_/intercepts_ are views into its buffer."""
        self.network_ = net
        self.coefs_ = list(net.weights)
        self.intercepts_ = list(net.biases)

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
        if (hidden and hidden[0] != wanted[0]) or net.loss != wanted[1] or \
                net.dtype != wanted[2]:
            new = self._new_network(layers)
            new.params[...] = net.params
            self._attach(new)
            self._best_params = self._best_params.astype(new.dtype)

    # ------------------------------------------------------------------ training

    def _fit(self, X, y, incremental):
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, T = self._validate_input(X, y, incremental, reset=first_pass)
        layers = [X.shape[1], *hidden, T.shape[1]]
        rs = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layers, self._out_activation(), rs)
        else:
            self._reuse(layers)
            if self.early_stopping and self.validation_scores_ is None:
                # warm start switching early stopping on: start its bookkeeping
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
                self.best_loss_ = None
            elif not self.early_stopping and self.best_loss_ is None:
                self.best_loss_ = np.inf
        self._fit_stochastic(X, T, rs, incremental)
        return self

    def _optimizer(self):
        if self.solver == "adam":
            return optim.Adam(lr=self.learning_rate_init, beta1=self.beta_1, beta2=self.beta_2,
                              eps=self.epsilon)
        if self.momentum == 0:
            return optim.SGD(lr=self.learning_rate_init)
        cls = optim.Nesterov if self.nesterovs_momentum else optim.Momentum
        return cls(lr=self.learning_rate_init, momentum=self.momentum)

    def _fit_stochastic(self, X, T, rs, incremental):
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
            X, X_val, T, T_val = train_test_split(X, T, random_state=rs,
                                                  test_size=self.validation_fraction,
                                                  stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            val = (X_val, self._decode(T_val))
        n = X.shape[0]
        if self.batch_size == "auto":
            B = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", stacklevel=4)
            B = min(self.batch_size, n)
        l2 = self.alpha / (2.0 * B)
        # the shuffling's generator, drawn after the initial weights and the split
        gen = np.random.default_rng(rs.randint(0, 2**32, size=4, dtype=np.uint64))
        # the engine's reported losses -> scikit-learn's (see the module docstring)
        scale = {"cross_entropy": 1.0, "mse": 1.0 / T.shape[1], "tse": 1.0 / n}[
            self._engine_loss()]
        sgd = self.solver == "sgd"
        status = {"converged": False}
        self.n_iter_ = 0

        def end_of_epoch(epoch, history):
            data = (history.cost[-1] - history.penalty[-1]) * scale
            sq = sum(float(np.dot(w.ravel(), w.ravel())) for w in self.network_.weights)
            self.loss_ = float(data + 0.5 * self.alpha * sq / n)
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

        try:
            self.network_.fit(
                X, T, epochs=1 if incremental else self.max_iter, lr=self.learning_rate_init,
                batch_size=B, shuffle=bool(self.shuffle), seed=gen, verbose=0,
                optimizer=self._optimizer(), l2=l2,
                lr_schedule=lambda epoch: self._learning_rate,
                callbacks=[end_of_epoch], n_threads=self.n_threads,
                _optimizer_state=self._optimizer_state)
        except FloatingPointError as exc:
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.") from exc
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

    def _validation_score(self, X, y):
        """scikit-learn's score on already validated data; NaN for non-finite outputs."""
        Y = self.network_.forward(X)
        if not np.isfinite(Y).all():
            return np.nan
        return float(self._score_function(y, self._outputs_to_predictions(Y)))

    # ------------------------------------------------------------------ inference

    def _forward(self, X):
        """The network's outputs for X, float64 unless both X and the network are float32
        (NumPy's promotion, as scikit-learn's product of X with its coefficients gives)."""
        check_is_fitted(self)
        float32_input = getattr(X, "dtype", None) == np.float32
        X = validate_data(self, X, accept_sparse=_SPARSE, dtype=self.network_.dtype,
                          reset=False)
        Y = self.network_.forward(X)
        if Y.dtype == np.float32 and not float32_input:
            Y = Y.astype(np.float64)
        return Y

    # ------------------------------------------------------------------ pickling

    def __getstate__(self):
        state = super().__getstate__()
        # the views are rebuilt from the network's own (pickled) buffer on loading
        state.pop("coefs_", None)
        state.pop("intercepts_", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "network_" in state:
            self._attach(state["network_"])


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
    solver : {"adam", "sgd"}, default="adam"
        "lbfgs" is not supported yet.
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
        Epochs at most.
    shuffle : bool, default=True
    random_state : None, int or numpy.random.RandomState, default=None
        Initial weights, the early-stopping split and the shuffling.
    tol : float >= 0, default=1e-4
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
        Accepted for compatibility (used by "lbfgs", not supported yet).
    loss : {"log_loss", "tse"}, default="log_loss"
        "log_loss" is scikit-learn's cross-entropy; "tse" the notes' total squared error
        ``||t - y||^2`` between the one-hot targets and the outputs.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the network and of every computation.
    n_threads : int or None, default=None
        Threads for the minibatch gradients (None: every CPU this process may use); see
        :meth:`cmlp.Network.fit`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_, intercepts_ : list of ndarray
        ``coefs_[i]`` of shape ``(n_i, n_{i+1})`` and ``intercepts_[i]`` of shape
        ``(n_{i+1},)``: live views into ``network_.params``.
    network_ : cmlp.Network
        The fitted network.
    loss_ : float
        The loss after the last epoch.
    loss_curve_ : list of float
        The loss after each epoch (see the module notes).
    best_loss_ : float or None
        The lowest of ``loss_curve_`` (None with early stopping).
    validation_scores_ : list of float or None
        Accuracy on the validation set after each epoch (early stopping only).
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``).
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
    def fit(self, X, y):
        """Fit the network to X and the class labels y; returns self.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels of any type scikit-learn accepts (strings too), or a multilabel
            indicator matrix.
        """
        return self._fit(X, y, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """One epoch over X, y; returns self.

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
        return self._fit(X, y, incremental=True)

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
    def _score_function(y, y_pred):
        return accuracy_score(y, y_pred)

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
    loss : {"squared_error", "tse"}, default="squared_error"
        "squared_error" is scikit-learn's half squared error, ``1/2 ||t - y||^2`` per row;
        "tse" the notes' ``||t - y||^2``. (scikit-learn's "poisson" is not supported.)
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
        "identity".

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
        "loss": [StrOptions({"squared_error", "tse"})],
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
    def fit(self, X, y):
        """Fit the network to X and the targets y (1-D, or 2-D for several outputs);
        returns self."""
        return self._fit(X, y, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """One epoch over X, y; returns self."""
        return self._fit(X, y, incremental=True)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=_SPARSE, multi_output=True,
                             y_numeric=True, dtype=self._dtype(), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        T = y.reshape(-1, 1) if y.ndim == 1 else y
        return X, np.ascontiguousarray(T, dtype=self._dtype())

    @staticmethod
    def _out_activation():
        return "identity"

    @staticmethod
    def _decode(T):
        return T.ravel() if T.shape[1] == 1 else T

    @staticmethod
    def _score_function(y, y_pred):
        return r2_score(y, y_pred)

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
