"""The package README's quick start runs as shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start() -> str:
    text = README.read_text()
    section = text.split("## Quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block in the quick start"
    return match.group(1)


@pytest.mark.skipif(not README.is_file(), reason="README.md not found")
def test_quick_start_runs() -> None:
    result = subprocess.run([sys.executable, "-c", quick_start()], capture_output=True, text=True, cwd="/", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"frame \d+ bytes: OK, replica at 1", lines[0]), lines
    assert lines[1] == "entity 2 at x = 2.5"
    assert lines[2] == "x of every entity: [1.0, 2.5]"
    assert re.fullmatch(r"digest [0-9a-f]{16}: in sync", lines[3])
