# cython: language_level=3
"""Bridge between NumPy arrays and the C kernels in csrc/ (checks, then calls C without the GIL)."""
include "_csv.pxi"
