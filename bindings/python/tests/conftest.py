"""Shared fixtures. The suite tests whatever `import podsync` finds: with .ci/test-python that is
the installed package (run from outside the repository), with its bundled library."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import podsync
from _support import ENTITY, ITEM, XXH3


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"podsync {podsync.__version__} from {Path(podsync.__file__).parent}",
        f"libpodsync {podsync.library_version()} (ABI {podsync.library_abi_version()}) "
        f"from {podsync.LIBRARY_PATH}",
    ]


@pytest.fixture
def schema() -> Iterator[podsync.Schema]:
    with podsync.Schema({1: ENTITY, 2: ITEM}) as s:
        yield s


@pytest.fixture
def writer(schema: podsync.Schema) -> Iterator[podsync.Writer]:
    with podsync.Writer(schema, manual_clock=True) as w:
        yield w


@pytest.fixture
def replica(schema: podsync.Schema) -> Iterator[podsync.Replica]:
    with podsync.Replica(schema) as r:
        yield r


@pytest.fixture(scope="session")
def xxh3() -> XXH3:
    try:
        return XXH3()
    except OSError:
        pytest.skip("libxxhash not found")
