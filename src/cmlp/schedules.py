"""``cmlp.schedules``: learning rate per epoch for ``Network.fit(lr_schedule=...)``.

A schedule maps the 0-based epoch ``e`` and the base learning rate ``lr`` (``fit``'s, after
the optimizer precedence of :mod:`cmlp.optim`) to the rate used for every step of epoch
``e``. ``lr_schedule`` accepts:

- ``None`` or ``"constant"``: :class:`Constant`, ``lr``;
- ``"step"``: :class:`StepDecay` with its defaults, ``lr * gamma ** (e // step_size)``;
- ``"exponential"``: :class:`ExponentialDecay`, ``lr * gamma ** e``;
- ``"inverse"``: :class:`InverseScaling`, ``lr / (1 + decay * e)``;
- an object of these classes, for other settings, e.g. ``StepDecay(step_size=5, gamma=0.1)``;
- any other callable ``f(epoch) -> lr`` (one argument, the 0-based epoch): the rate itself,
  the base ``lr`` is ignored.

The rate of each epoch must be a finite number > 0, else ``fit`` raises ``ValueError``.
``History.learning_rates`` records the rate of every completed epoch.
"""
import inspect
import math
import numbers

from ._validation import check_float, check_int

__all__ = ["Schedule", "Constant", "StepDecay", "ExponentialDecay", "InverseScaling",
           "FromCallable", "SCHEDULES", "get_schedule"]


class Schedule:
    """Base class: ``schedule(epoch, lr) -> learning rate of that epoch``."""

    def __call__(self, epoch, lr):
        raise NotImplementedError

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({inner})"


class Constant(Schedule):
    """``lr`` in every epoch."""

    def __call__(self, epoch, lr):
        return lr


class StepDecay(Schedule):
    """``lr * gamma ** (epoch // step_size)``: multiplied by gamma every step_size epochs.

    Parameters
    ----------
    step_size : int >= 1, default 10
    gamma : float in (0, 1], default 0.5
    """

    def __init__(self, step_size=10, gamma=0.5):
        self.step_size = check_int("step_size", step_size, 1)
        self.gamma = _factor("gamma", gamma)

    def __call__(self, epoch, lr):
        return lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay(Schedule):
    """``lr * gamma ** epoch``.

    Parameters
    ----------
    gamma : float in (0, 1], default 0.95
    """

    def __init__(self, gamma=0.95):
        self.gamma = _factor("gamma", gamma)

    def __call__(self, epoch, lr):
        return lr * self.gamma ** epoch


class InverseScaling(Schedule):
    """``lr / (1 + decay * epoch)``.

    Parameters
    ----------
    decay : float >= 0, default 0.01
    """

    def __init__(self, decay=0.01):
        self.decay = check_float("decay", decay, 0.0)

    def __call__(self, epoch, lr):
        return lr / (1.0 + self.decay * epoch)


class FromCallable(Schedule):
    """Wraps ``f(epoch) -> lr``; the base learning rate is ignored."""

    def __init__(self, f):
        if not callable(f):
            raise TypeError(f"lr_schedule: expected a callable epoch -> lr, got {f!r}")
        try:
            inspect.signature(f).bind(0)
        except TypeError:
            raise TypeError(f"lr_schedule: a callable is called with one argument, the "
                            f"0-based epoch, and returns the learning rate (epoch -> lr); "
                            f"{f!r} cannot be called that way (for a rule on the base rate, "
                            f"use lambda epoch: base * ...)") from None
        except ValueError:  # no signature to inspect (some builtins): called as it is
            pass
        self.f = f

    def __call__(self, epoch, lr):
        return self.f(epoch)


def _factor(name, value):
    value = check_float(name, value, 0.0, strict=True)
    if value > 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value}")
    return value


SCHEDULES = {"constant": Constant, "step": StepDecay, "exponential": ExponentialDecay,
             "inverse": InverseScaling}


def get_schedule(spec):
    """None, a name of :data:`SCHEDULES`, a :class:`Schedule` or a callable -> Schedule."""
    if spec is None:
        return Constant()
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, type) and issubclass(spec, Schedule):
        raise TypeError(f"lr_schedule: pass a schedule object, e.g. {spec.__name__}(), not the "
                        f"class {spec.__name__}")
    if isinstance(spec, str):
        if spec not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {sorted(SCHEDULES)}, a "
                             f"cmlp.schedules object or a callable epoch -> lr, got {spec!r}")
        return SCHEDULES[spec]()
    if callable(spec):
        return FromCallable(spec)
    raise TypeError(f"lr_schedule must be a name, a cmlp.schedules object or a callable "
                    f"epoch -> lr, got {type(spec).__name__} {spec!r}")


def check_before_training(schedule, epochs, lr):
    """Refuse now a built-in schedule whose rate leaves the allowed range by the last of
    ``epochs`` (theirs never rise, so the last epoch's is the smallest); other schedules
    are checked as each epoch starts (:func:`lr_for_epoch`)."""
    if type(schedule) in SCHEDULES.values():
        lr_for_epoch(schedule, epochs - 1, lr)


def lr_for_epoch(schedule, epoch, lr):
    """The checked rate of one epoch (finite, > 0)."""
    value = schedule(epoch, lr)
    if isinstance(value, (bool,)) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"lr_schedule gave {value!r} for epoch {epoch}; the learning rate "
                         f"must be a finite number > 0")
    return float(value)
