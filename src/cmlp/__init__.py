"""cmlp: fast multilayer perceptrons with C kernels, exactly as the course notes derive them.

The main entry point is :class:`cmlp.Network`; :mod:`cmlp.reference` is the pure-NumPy
transcription of the notes that every kernel is tested against.
"""
from ._version import __version__
from . import _core  # a broken build fails here, loudly: there is no slow fallback
from ._targets import one_hot
from .history import ConvergenceWarning, History
from .network import Network
from .persistence import load, save
from . import datasets, metrics, optim, persistence, reference, schedules

__all__ = ["Network", "History", "ConvergenceWarning", "one_hot", "load", "save", "datasets", "metrics", "optim",
           "schedules", "reference", "__version__"]

# scikit-learn estimators: imported on first access, so that cmlp itself never needs sklearn
_ESTIMATORS = ("MLPClassifier", "MLPRegressor")


def __getattr__(name):
    if name in _ESTIMATORS:
        try:
            from . import estimators
        except ImportError as exc:
            raise ImportError(f"cmlp.{name} needs scikit-learn (>= 1.6): "
                              f"pip install cmlp[sklearn]") from exc
        return getattr(estimators, name)
    raise AttributeError(f"module 'cmlp' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ESTIMATORS))
