"""Build the ``cmlp._core`` extension: every ``csrc/*.c`` kernel plus the Cython bridge.

Flags keep IEEE semantics (no ``-ffast-math``, no ``-march=native``): NaN checks and
bit-for-bit parity with the reference depend on it.  ``-fopenmp-simd`` only lets the
compiler vectorise reductions that carry ``#pragma omp simd``; it links no OpenMP runtime.
``-fno-math-errno`` only stops libm calls (``sqrt``) from setting ``errno``, which would
otherwise keep them out of vectorised loops; it changes no floating-point result.
Set ``CMLP_WERROR=1`` to turn compiler warnings into errors (CI does).
"""
import glob
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

GCC_LIKE_FLAGS = ["-std=c99", "-O3", "-fno-math-errno", "-fopenmp-simd", "-DCMLP_OMP_SIMD", "-Wall", "-Wextra", "-Wno-unused-function"]
MSVC_FLAGS = ["/O2"]


class BuildExt(build_ext):
    """Pick warning and optimisation flags by compiler family."""

    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        flags = list(MSVC_FLAGS if msvc else GCC_LIKE_FLAGS)
        if os.environ.get("CMLP_WERROR") == "1":
            flags.append("/WX" if msvc else "-Werror")
        extra = os.environ.get("CMLP_EXTRA_CFLAGS", "").split()
        for ext in self.extensions:
            ext.extra_compile_args = flags + extra
            ext.extra_link_args = os.environ.get("CMLP_EXTRA_LDFLAGS", "").split()
        super().build_extensions()


sources = ["src/cmlp/_core.pyx"] + sorted(glob.glob("csrc/*.c"))
extensions = [
    Extension(
        "cmlp._core",
        sources=sources,
        include_dirs=["csrc", np.get_include()],
        # the kernels live in headers (*_tmpl.h): a changed header must rebuild the .c files
        depends=sorted(glob.glob("csrc/*.h")) + ["src/cmlp/_kernels.pxd", "src/cmlp/_csv.pxi"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
