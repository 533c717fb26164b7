"""Run every cmocka unit-test binary, so pytest's summary counts them too."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / os.environ.get("VIGIL_BUILD", "build")
BINARIES = sorted(p.name for p in (BUILD / "tests").glob("test_*") if os.access(p, os.X_OK))


@pytest.mark.parametrize("name", BINARIES)
def test_unit(name):
    r = subprocess.run([str(BUILD / "tests" / name)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]


def test_unit_binaries_exist():
    assert BINARIES, f"no unit test binaries under {BUILD}/tests: run make first"
