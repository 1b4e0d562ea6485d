"""The package README's quick start runs as shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start() -> str:
    text = README.read_text()
    section = text.split("## Quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block in the quick start"
    return match.group(1)


def test_quick_start_runs() -> None:
    result = subprocess.run([sys.executable, "-c", quick_start()], capture_output=True, text=True, cwd="/", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"frame \d+ bytes: OK, replica at 1", lines[0]), lines
    assert lines[1] == "entity 2 at x = 2.5"
    assert lines[2] == "x of every entity: [1.0, 2.5]"
    assert re.fullmatch(r"digest [0-9a-f]{16}: in sync", lines[3])


ROOT_README = Path(__file__).resolve().parents[3] / "README.md"


def test_repository_readme_python_quick_start_runs() -> None:
    """The repository README's "Python quick start" block runs as shown."""
    match = re.search(r"## Python quick start.*?```python\n(.*?)```", ROOT_README.read_text(), re.S)
    assert match, "README.md has a Python quick start block"
    result = subprocess.run([sys.executable, "-c", match.group(1)], capture_output=True, text=True, cwd="/", timeout=60)
    assert result.returncode == 0, result.stderr
