# Bridge for the MNIST CSV parser (csrc/csv.c); included by _core.pyx.
