"""test_install.py: `cmake --install` puts the package where Debian's python3 looks (for the configured
prefix, /usr/local or /usr), complete: installed under a DESTDIR, it imports and runs without the build tree."""
import os
import subprocess

import pytest

PYTHON = "/usr/bin/python3"


def test_install_where_debian_python_looks(tmp_path):
    build = os.environ.get("BUILD_DIR")
    if not build:
        pytest.skip("BUILD_DIR not set (ctest sets it)")
    dest = tmp_path / "dest"
    # cmake itself runs without the sanitizer runtime the ASan build preloads for python (tests/CMakeLists.txt):
    # preloaded into cmake, it hangs
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    subprocess.run(["cmake", "--install", build], env=dict(env, DESTDIR=str(dest)), check=True, capture_output=True,
                   timeout=120)
    inits = list(dest.rglob("critnet/__init__.py"))
    assert len(inits) == 1, inits
    site = "/" + str(inits[0].parent.parent.relative_to(dest))
    prefix = next(line.split("=", 1)[1] for line in open(os.path.join(build, "CMakeCache.txt"))
                  if line.startswith("CMAKE_INSTALL_PREFIX:"))
    if prefix.strip() in ("/usr/local", "/usr"):
        paths = subprocess.run([PYTHON, "-c", "import sys; print('\\n'.join(sys.path))"], capture_output=True,
                               text=True, check=True, env={}).stdout.split()
        assert site in paths, f"{site} is not on {PYTHON}'s path {paths}"
    # the installed copy alone: run from elsewhere, with only it on the path
    code = "import critnet; print(critnet.__file__); print(critnet.theory('tanh', 0.5).phase)"
    keep = {k: os.environ[k] for k in ("LD_PRELOAD", "ASAN_OPTIONS") if k in os.environ}  # the ASan build's
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env=dict(keep, PYTHONPATH=str(dest) + site)).stdout.split()
    assert out[0].startswith(str(dest)) and out[1] == "ordered", out
