"""Building the package: it bundles a library, or refuses to build (no package that cannot import).

`.ci/test-wheel` runs the real `pip install` of a checkout without a library and tests the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]  # bindings/python

pytest.importorskip("setuptools")
needs_source = pytest.mark.skipif(not (PACKAGE / "setup.py").is_file(), reason="the package source is not here")


def checkout_without_library(tmp_path: Path) -> Path:
    """A copy of bindings/python inside a tree with no .build/ (a fresh checkout)."""
    dest = tmp_path / "checkout" / "bindings" / "python"
    (dest / "podsync").mkdir(parents=True)
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(PACKAGE / name, dest / name)
    for src in (PACKAGE / "podsync").glob("*.py"):
        shutil.copy2(src, dest / "podsync" / src.name)
    return dest


def build_py(source: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("PODSYNC_LIBRARY", "PODSYNC_NO_BUNDLE", "PODSYNC_NATS_LIB")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "setup.py", "build_py", "--build-lib", "out"],
        cwd=source, env=environ, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@needs_source
def test_no_library_fails_at_build_time_with_how_to_build_it(tmp_path: Path) -> None:
    source = checkout_without_library(tmp_path)
    result = build_py(source)
    assert result.returncode != 0
    assert "there is no libpodsync.so to bundle" in result.stderr
    assert "bash .ci/build-lib" in result.stderr and "bash .ci/build-wheel" in result.stderr
    assert str(tmp_path / "checkout" / ".build" / "release" / "libpodsync.so") in result.stderr
    assert not (source / "out" / "podsync").exists()


@needs_source
def test_a_missing_podsync_library_path_fails(tmp_path: Path) -> None:
    result = build_py(checkout_without_library(tmp_path), PODSYNC_LIBRARY=str(tmp_path / "nope.so"))
    assert result.returncode != 0 and "no such file" in result.stderr


@needs_source
def test_no_bundle_builds_a_package_without_a_copy(tmp_path: Path) -> None:
    source = checkout_without_library(tmp_path)
    result = build_py(source, PODSYNC_NO_BUNDLE="1")
    assert result.returncode == 0, result.stderr
    assert (source / "out" / "podsync" / "__init__.py").is_file()
    assert not (source / "out" / "podsync" / "_lib").exists()


@needs_source
def test_podsync_library_is_bundled(tmp_path: Path) -> None:
    import podsync

    source = checkout_without_library(tmp_path)
    result = build_py(source, PODSYNC_LIBRARY=podsync.LIBRARY_PATH)
    assert result.returncode == 0, result.stderr
    bundled = source / "out" / "podsync" / "_lib" / "libpodsync.so"
    assert bundled.read_bytes() == Path(podsync.LIBRARY_PATH).read_bytes()


@needs_source
def test_the_nats_carrier_beside_the_library_is_bundled_with_the_sonamed_engine(tmp_path: Path) -> None:
    import podsync
    import podsync.nats

    libs = tmp_path / "libs"
    libs.mkdir()
    shutil.copy2(podsync.LIBRARY_PATH, libs / "libpodsync.so")
    shutil.copy2(podsync.nats.LIBRARY_PATH, libs / "libpodsync_nats.so")
    source = checkout_without_library(tmp_path)
    result = build_py(source, PODSYNC_LIBRARY=str(libs / "libpodsync.so"))
    assert result.returncode == 0, result.stderr
    bundled = source / "out" / "podsync" / "_lib"
    engine = (libs / "libpodsync.so").read_bytes()
    assert sorted(p.name for p in bundled.iterdir()) == ["libpodsync.so", "libpodsync.so.0", "libpodsync_nats.so"]
    assert (bundled / "libpodsync.so").read_bytes() == engine == (bundled / "libpodsync.so.0").read_bytes()
    assert (bundled / "libpodsync_nats.so").read_bytes() == (libs / "libpodsync_nats.so").read_bytes()

    # Without a carrier beside the library: the package has none (and no second engine name).
    (libs / "libpodsync_nats.so").unlink()
    result = build_py(source, PODSYNC_LIBRARY=str(libs / "libpodsync.so"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in bundled.iterdir()) == ["libpodsync.so"]

    # $PODSYNC_NATS_LIB names the carrier explicitly; a missing one fails the build.
    result = build_py(source, PODSYNC_LIBRARY=str(libs / "libpodsync.so"), PODSYNC_NATS_LIB=podsync.nats.LIBRARY_PATH)
    assert result.returncode == 0, result.stderr
    assert (bundled / "libpodsync_nats.so").is_file() and (bundled / "libpodsync.so.0").is_file()
    result = build_py(source, PODSYNC_LIBRARY=str(libs / "libpodsync.so"), PODSYNC_NATS_LIB=str(tmp_path / "nope.so"))
    assert result.returncode != 0 and "PODSYNC_NATS_LIB" in result.stderr and "no such file" in result.stderr
