"""Build hook: bundle the PodSync shared library into the package (podsync/_lib/libpodsync.so).

The library bundled is, in order: $PODSYNC_LIBRARY if set at build time, else the repository's
release build (<repo>/.build/release/libpodsync.so, built by `bash .ci/build-lib`) when this
directory sits in a PodSync checkout. If neither exists the build FAILS with a message saying how
to build the library (rather than installing a package that cannot be imported), unless
PODSYNC_NO_BUNDLE=1 asks for a package without a copy, which then loads $PODSYNC_LIBRARY or the
system's libpodsync (e.g. one installed with `make install`) at run time.

The NATS carrier, libpodsync_nats.so (``podsync.nats``), is bundled too when there is one:
$PODSYNC_NATS_LIB if set at build time, else the libpodsync_nats.so beside the libpodsync.so being
bundled (the release build puts both in .build/release when libnats-dev is installed). It links
libpodsync.so.0 (NEEDED, found through its RUNPATH $ORIGIN), so the engine is bundled under that
name as well (a copy: wheels hold no symlinks); at run time the package loads libpodsync.so first
and the carrier binds to that very copy (the loader matches the SONAME), the second name only lets
tools that resolve NEEDED entries from the files (auditwheel) find it. Without a carrier library
the package is built without it (``import podsync.nats`` then says what it looked for).

A wheel that bundles the library is a platform wheel (py3-none-<platform>, files in platlib). It
still links the system's libzstd and libxxhash: `bash .ci/build-wheel` turns it into a manylinux
wheel that carries them too (auditwheel repair).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
LIBRARY_NAME = "libpodsync.so"
LIBRARY_SONAME = "libpodsync.so.0"  # what libpodsync_nats.so links (NEEDED)
NATS_LIBRARY_NAME = "libpodsync_nats.so"
REPO_BUILD = HERE.parents[1] / ".build" / "release" / LIBRARY_NAME
NO_BUNDLE = os.environ.get("PODSYNC_NO_BUNDLE", "") not in ("", "0")


def library_to_bundle() -> Path | None:
    env = os.environ.get("PODSYNC_LIBRARY")
    if env:
        path = Path(env)
        if not path.is_file():
            raise SystemExit(f"podsync: PODSYNC_LIBRARY={env}: no such file")
        return path
    if NO_BUNDLE:
        return None
    return REPO_BUILD if REPO_BUILD.is_file() else None


BUNDLED = library_to_bundle()


def nats_library_to_bundle(engine: Path | None) -> Path | None:
    env = os.environ.get("PODSYNC_NATS_LIB")
    if env:
        path = Path(env)
        if not path.is_file():
            raise SystemExit(f"podsync: PODSYNC_NATS_LIB={env}: no such file")
        return path if engine is not None else None
    if engine is None:
        return None
    for directory in dict.fromkeys((engine.parent, engine.resolve().parent)):
        if (directory / NATS_LIBRARY_NAME).is_file():
            return directory / NATS_LIBRARY_NAME
    return None


BUNDLED_NATS = nats_library_to_bundle(BUNDLED)

MISSING_LIBRARY = f"""
podsync: cannot build the Python package: there is no libpodsync.so to bundle.
  looked for: $PODSYNC_LIBRARY (not set), then {REPO_BUILD} (no such file)
Build the library first, from the root of the PodSync repository (needs Swift, libzstd-dev and
libxxhash-dev; `bash .ci/install-deps` installs the latter):

    bash .ci/build-lib
    python3 -m pip install ./bindings/python

or build a self-contained wheel for machines without Swift, libzstd or libxxhash:

    bash .ci/build-wheel

Alternatively set PODSYNC_LIBRARY=/path/to/libpodsync.so to bundle another build, or
PODSYNC_NO_BUNDLE=1 to install without a copy (the package then loads $PODSYNC_LIBRARY or the
system's libpodsync at run time).
"""


class BuildPyWithLibrary(build_py):
    def run(self) -> None:
        if BUNDLED is None and not NO_BUNDLE:
            raise SystemExit(MISSING_LIBRARY)
        super().run()
        if BUNDLED is None:
            self.announce(
                f"podsync: PODSYNC_NO_BUNDLE set: no {LIBRARY_NAME} bundled; the package will load "
                "$PODSYNC_LIBRARY or the system's library at run time",
                level=3,
            )
            return
        target = Path(self.build_lib) / "podsync" / "_lib"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(BUNDLED, target / LIBRARY_NAME)  # follows a symlink (libpodsync.so -> .so.0)
        self.announce(f"podsync: bundled {BUNDLED}", level=3)
        for stale in (target / LIBRARY_SONAME, target / NATS_LIBRARY_NAME):
            stale.unlink(missing_ok=True)  # from an earlier build into the same build/ directory
        if BUNDLED_NATS is not None:
            shutil.copy2(BUNDLED, target / LIBRARY_SONAME)
            shutil.copy2(BUNDLED_NATS, target / NATS_LIBRARY_NAME)
            self.announce(f"podsync: bundled the NATS carrier {BUNDLED_NATS} (and {LIBRARY_SONAME})", level=3)


class BinaryDistribution(Distribution):
    """Pure Python code (ctypes), but a platform-specific shared library inside: the files go to
    platlib (auditwheel repairs only platlib wheels)."""

    def has_ext_modules(self) -> bool:
        return BUNDLED is not None


cmdclass: dict[str, type] = {"build_py": BuildPyWithLibrary}

if BUNDLED is not None:
    try:
        from setuptools.command.bdist_wheel import bdist_wheel
    except ImportError:  # setuptools < 70.1
        try:
            from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]
        except ImportError:
            bdist_wheel = None  # type: ignore[assignment,misc]

    if bdist_wheel is not None:

        class PlatformWheel(bdist_wheel):  # type: ignore[misc,valid-type]
            """Tagged py3-none-<platform>: any Python 3, no CPython ABI, this platform."""

            def finalize_options(self) -> None:
                super().finalize_options()
                self.root_is_pure = False

            def get_tag(self) -> tuple[str, str, str]:
                _, _, plat = super().get_tag()
                return "py3", "none", plat

        cmdclass["bdist_wheel"] = PlatformWheel

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
