"""Build hook: bundle the PodSync shared library into the package (podsync/_lib/libpodsync.so).

The library bundled is, in order: $PODSYNC_LIBRARY if set at build time, else the repository's
release build (<repo>/.build/release/libpodsync.so, built by `bash .ci/build-lib`) when this
directory sits in a PodSync checkout. If neither exists the package is built without a copy and
finds the library at run time ($PODSYNC_LIBRARY, the repository build tree, the system).
A wheel that bundles the library is tagged for this platform (py3-none-<platform>).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
LIBRARY_NAME = "libpodsync.so"


def library_to_bundle() -> Path | None:
    env = os.environ.get("PODSYNC_LIBRARY")
    if env:
        path = Path(env)
        if not path.is_file():
            raise SystemExit(f"PODSYNC_LIBRARY={env}: no such file")
        return path
    repo_build = HERE.parents[1] / ".build" / "release" / LIBRARY_NAME
    return repo_build if repo_build.is_file() else None


BUNDLED = library_to_bundle()


class BuildPyWithLibrary(build_py):
    def run(self) -> None:
        super().run()
        if BUNDLED is None:
            self.announce(
                f"podsync: no {LIBRARY_NAME} to bundle (run `bash .ci/build-lib` first, or set "
                "PODSYNC_LIBRARY); the package will look for the library at run time",
                level=3,
            )
            return
        target = Path(self.build_lib) / "podsync" / "_lib"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(BUNDLED, target / LIBRARY_NAME)
        self.announce(f"podsync: bundled {BUNDLED}", level=3)


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
            """Pure Python code (ctypes), but a platform-specific shared library inside."""

            def finalize_options(self) -> None:
                super().finalize_options()
                self.root_is_pure = False

            def get_tag(self) -> tuple[str, str, str]:
                _, _, plat = super().get_tag()
                return "py3", "none", plat

        cmdclass["bdist_wheel"] = PlatformWheel

setup(cmdclass=cmdclass)
