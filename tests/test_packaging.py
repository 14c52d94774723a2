"""What a built wheel and sdist may and must contain.

This module builds nothing: it inspects files given by path, and each group of tests
skips when its variable is unset (a plain ``pytest`` run skips them all)::

    CMLP_WHEEL=dist/cmlp-0.1.0-cp311-cp311-manylinux_2_17_x86_64.whl \\
    CMLP_SDIST=dist/cmlp-0.1.0.tar.gz  python -m pytest tests/test_packaging.py

``.ci/wheels.sh`` and cibuildwheel (``{wheel}``) set them. The rules:

* wheel: only ``.py`` files, the one compiled ``_core`` extension, ``py.typed``,
  ``data/*.npz`` and the ``.dist-info`` metadata; no C, Cython or header sources, no
  tests, no build leftovers, no vendored shared libraries; a valid RECORD; a platform
  tag PyPI accepts (``manylinux``/``musllinux`` on Linux).
* sdist: everything a build from source needs (``csrc/``, ``.pyx``/``.pxd``/``.pxi``,
  headers, the package and its data, ``pyproject.toml``/``setup.py``) and nothing else:
  no generated ``_core.c``, no binaries, no tests or CI files.
* both: one version number, the one in ``src/cmlp/_version.py``.
"""
import base64
import configparser
import email.parser
import hashlib
import os
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

SOURCE_SUFFIXES = (".c", ".h", ".cpp", ".hpp", ".pyx", ".pxd", ".pxi", ".o", ".obj")
VERSION_RE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']\s*$""", re.MULTILINE)

# the source tree, when these tests run from a checkout (not from a copy of tests/)
TREE = Path(__file__).resolve().parents[1]
IN_TREE = (TREE / "csrc" / "cmlp.h").is_file() and (TREE / "src" / "cmlp" / "_core.pyx").is_file()


def _path_from_env(var):
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} is not set (point it at a built file to check it)")
    path = Path(value)
    assert path.is_file(), f"{var}={value!r} is not a file"
    return path


def _version_of(text, where):
    found = VERSION_RE.findall(text)
    assert len(found) == 1, f"{where} must define __version__ exactly once, found {found}"
    return found[0]


def _metadata(text):
    return email.parser.Parser().parsestr(text)


# --------------------------------------------------------------------------- wheel


@pytest.fixture(scope="module")
def wheel():
    path = _path_from_env("CMLP_WHEEL")
    assert path.suffix == ".whl", f"CMLP_WHEEL={path} is not a .whl file"
    with zipfile.ZipFile(path) as zf:
        files = {info.filename: zf.read(info) for info in zf.infolist() if not info.is_dir()}
    # name-version-(build-)?python-abi-platform.whl
    parts = path.name[: -len(".whl")].split("-")
    assert len(parts) in (5, 6), f"malformed wheel file name {path.name}"
    return {"path": path, "files": files, "name": parts[0], "version": parts[1],
            "python": parts[-3], "abi": parts[-2], "platform": parts[-1]}


def _dist_info(wheel):
    return f"{wheel['name']}-{wheel['version']}.dist-info"


def test_wheel_holds_no_sources_tests_or_leftovers(wheel):
    names = sorted(wheel["files"])
    sources = [n for n in names if n.lower().endswith(SOURCE_SUFFIXES)]
    assert sources == [], f"source files in the wheel: {sources}"
    junk = [n for n in names
            if re.search(r"(^|/)(tests?|build|__pycache__|csrc)/", n)
            or n.endswith((".pyc", ".pyo", ".html", ".egg-info"))]
    assert junk == [], f"tests or build leftovers in the wheel: {junk}"


def test_wheel_file_list_is_exactly_the_allowed_kinds(wheel):
    dist_info = re.escape(_dist_info(wheel))
    allowed = [
        r"cmlp/(?:[A-Za-z_]\w*/)*[A-Za-z_]\w*\.py",    # Python modules
        r"cmlp/_core(?:\.[\w.-]+)?\.(?:so|pyd)",         # the one extension
        r"cmlp/py\.typed",
        r"cmlp/data/[\w.-]+\.npz",
        dist_info + r"/(?:METADATA|WHEEL|RECORD|entry_points\.txt|top_level\.txt)",
        dist_info + r"/licenses/LICENSE",
    ]
    pattern = re.compile("|".join(f"(?:{a})" for a in allowed))
    unexpected = sorted(n for n in wheel["files"] if not pattern.fullmatch(n))
    # auditwheel/delocate/delvewheel vendor external libraries into cmlp.libs/ or
    # cmlp/.dylibs/: the kernels need none beyond the platform's C runtime
    assert unexpected == [], f"files the wheel must not contain: {unexpected}"


def test_wheel_has_the_package_extension_data_and_license(wheel):
    names = set(wheel["files"])
    for required in ("cmlp/__init__.py", "cmlp/_version.py", "cmlp/py.typed",
                     "cmlp/data/mnist_sample.npz", f"{_dist_info(wheel)}/licenses/LICENSE"):
        assert required in names, f"{required} is missing from the wheel"
    extensions = [n for n in names if re.fullmatch(r"cmlp/_core(\.[\w.-]+)?\.(so|pyd)", n)]
    assert len(extensions) == 1, f"expected exactly one compiled _core, found {extensions}"
    license_text = wheel["files"][f"{_dist_info(wheel)}/licenses/LICENSE"].decode()
    assert "MIT License" in license_text and "cmlp developers" in license_text


def test_wheel_version_is_the_one_in_version_py(wheel):
    version = _version_of(wheel["files"]["cmlp/_version.py"].decode(), "cmlp/_version.py")
    meta = _metadata(wheel["files"][f"{_dist_info(wheel)}/METADATA"].decode())
    assert meta["Name"] == "cmlp"
    assert meta["Version"] == version == wheel["version"]
    assert meta["License-Expression"] == "MIT"
    requires = meta.get_all("Requires-Dist") or []
    assert any(r.replace(" ", "").startswith("numpy>=") for r in requires), requires


def test_wheel_entry_points_name_modules_it_ships(wheel):
    path = f"{_dist_info(wheel)}/entry_points.txt"
    if path not in wheel["files"]:
        pytest.skip("the wheel declares no entry points")
    parser = configparser.ConfigParser()
    parser.read_string(wheel["files"][path].decode())
    targets = dict(parser["console_scripts"]) if parser.has_section("console_scripts") else {}
    assert targets, "entry_points.txt without console_scripts"
    for script, target in targets.items():
        module = target.split(":")[0].strip()
        module_file = module.replace(".", "/") + ".py"
        package_init = module.replace(".", "/") + "/__init__.py"
        assert module_file in wheel["files"] or package_init in wheel["files"], (
            f"console script {script!r} points at {target!r}, but the wheel has no {module_file}")


def test_wheel_record_lists_every_file_with_its_hash(wheel):
    record_path = f"{_dist_info(wheel)}/RECORD"
    rows = [line.rsplit(",", 2) for line in wheel["files"][record_path].decode().splitlines() if line]
    recorded = {name: digest for name, digest, _size in rows}
    assert set(recorded) == set(wheel["files"]), (
        f"RECORD and archive differ: {set(recorded) ^ set(wheel['files'])}")
    for name, digest in recorded.items():
        if name == record_path:
            assert digest == ""
            continue
        algo, _, expected = digest.partition("=")
        assert algo == "sha256", f"{name}: {digest}"
        actual = base64.urlsafe_b64encode(hashlib.sha256(wheel["files"][name]).digest())
        assert actual.rstrip(b"=").decode() == expected, f"RECORD hash mismatch for {name}"


def test_wheel_is_a_platform_wheel_pypi_accepts(wheel):
    info = _metadata(wheel["files"][f"{_dist_info(wheel)}/WHEEL"].decode())
    assert info["Root-Is-Purelib"].strip().lower() == "false"
    tags = set(info.get_all("Tag"))
    name_tags = {f"{py}-{abi}-{plat}" for py in wheel["python"].split(".")
                 for abi in wheel["abi"].split(".") for plat in wheel["platform"].split(".")}
    assert tags == name_tags, f"WHEEL tags {tags} differ from the file name's {name_tags}"
    assert wheel["abi"] not in ("none", "abi3"), "the extension is built per CPython version"
    for plat in wheel["platform"].split("."):
        assert plat != "any"
        if "linux" in plat:
            # a bare linux_x86_64 wheel is refused by PyPI: run auditwheel repair first
            assert plat.startswith(("manylinux", "musllinux")), plat


# --------------------------------------------------------------------------- sdist


@pytest.fixture(scope="module")
def sdist():
    path = _path_from_env("CMLP_SDIST")
    assert path.name.endswith(".tar.gz"), f"CMLP_SDIST={path} is not a .tar.gz file"
    with tarfile.open(path) as tf:
        members = [m for m in tf.getmembers() if m.isfile()]
        roots = {m.name.split("/", 1)[0] for m in members}
        assert len(roots) == 1, f"an sdist has one top directory, found {roots}"
        root = roots.pop()
        files = {m.name.split("/", 1)[1]: tf.extractfile(m).read() for m in members}
    assert root == path.name[: -len(".tar.gz")], f"top directory {root} != file name"
    name, _, version = root.rpartition("-")
    return {"path": path, "files": files, "name": name, "version": version}


def test_sdist_file_list_is_exactly_what_a_build_needs(sdist):
    allowed = [
        r"PKG-INFO|pyproject\.toml|setup\.py|setup\.cfg|MANIFEST\.in|README\.md|LICENSE"
        r"|CHANGELOG\.md",
        r"csrc/[\w.-]+\.[ch]",
        r"src/cmlp/(?:[A-Za-z_]\w*/)*[A-Za-z_]\w*\.(?:py|pyx|pxd|pxi)",
        r"src/cmlp/py\.typed",
        r"src/cmlp/data/[\w.-]+\.npz",
        r"src/cmlp\.egg-info/(?:PKG-INFO|SOURCES\.txt|dependency_links\.txt"
        r"|entry_points\.txt|requires\.txt|top_level\.txt)",
    ]
    pattern = re.compile("|".join(f"(?:{a})" for a in allowed))
    unexpected = sorted(n for n in sdist["files"] if not pattern.fullmatch(n))
    assert unexpected == [], f"files the sdist must not contain: {unexpected}"
    # Cython's output is regenerated from _core.pyx at build time
    assert "src/cmlp/_core.c" not in sdist["files"]


def test_sdist_has_build_files_sources_and_headers(sdist):
    names = set(sdist["files"])
    for required in ("PKG-INFO", "pyproject.toml", "setup.py", "README.md", "LICENSE",
                     "csrc/cmlp.h", "src/cmlp/_core.pyx", "src/cmlp/_kernels.pxd",
                     "src/cmlp/__init__.py", "src/cmlp/_version.py", "src/cmlp/py.typed",
                     "src/cmlp/data/mnist_sample.npz"):
        assert required in names, f"{required} is missing from the sdist"
    assert any(n.startswith("csrc/") and n.endswith(".c") for n in names)


def test_sdist_includes_resolve_inside_the_sdist(sdist):
    """Every header and Cython file that a source names is shipped beside it."""
    names = set(sdist["files"])
    missing = []
    for name, data in sdist["files"].items():
        text = data.decode("utf-8", "replace")
        if name.startswith("csrc/"):
            for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', text, re.MULTILINE):
                if f"csrc/{inc}" not in names:
                    missing.append((name, inc))
        elif name.endswith((".pyx", ".pxd", ".pxi")):
            for inc in re.findall(r'^\s*include\s+"([^"]+)"', text, re.MULTILINE):
                if f"src/cmlp/{inc}" not in names:
                    missing.append((name, inc))
            for hdr in re.findall(r'cdef\s+extern\s+from\s+"([^"]+)"', text):
                # Python.h and the C library come from the compiler, the rest from csrc/
                if hdr != "Python.h" and not hdr.startswith("<") and f"csrc/{hdr}" not in names:
                    missing.append((name, hdr))
            for mod in re.findall(r"^\s*from\s+\.(\w+)\s+cimport", text, re.MULTILINE):
                if f"src/cmlp/{mod}.pxd" not in names:
                    missing.append((name, f"{mod}.pxd"))
    assert missing == [], f"sources name files the sdist lacks: {missing}"


@pytest.mark.skipif(not IN_TREE, reason="needs the source tree beside tests/")
def test_sdist_carries_every_kernel_and_cython_file_of_the_tree(sdist):
    tree = {p.relative_to(TREE).as_posix() for p in (TREE / "csrc").glob("*.[ch]")}
    tree |= {p.relative_to(TREE).as_posix() for ext in ("pyx", "pxd", "pxi")
             for p in (TREE / "src" / "cmlp").glob(f"*.{ext}")}
    assert sorted(tree - set(sdist["files"])) == []


def test_sdist_version_is_the_one_in_version_py(sdist):
    version = _version_of(sdist["files"]["src/cmlp/_version.py"].decode(), "_version.py")
    assert _metadata(sdist["files"]["PKG-INFO"].decode())["Version"] == version
    assert sdist["version"] == version and sdist["name"] == "cmlp"
    # the version lives in _version.py alone: pyproject reads it, setup.py does not repeat it
    pyproject = sdist["files"]["pyproject.toml"].decode()
    project = pyproject.split("[project]", 1)[1].split("\n[", 1)[0]
    assert re.search(r"^dynamic\s*=.*\"version\"", project, re.MULTILINE)
    assert not re.search(r"^version\s*=", project, re.MULTILINE)
    assert version not in sdist["files"]["setup.py"].decode()
