"""Validating a buildspec leaves out jsonschema's optional format package, and still finds what is wrong."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT

PROBE = """
import sys
from pathlib import Path
from runbook_lib.validate.static import UNUSED_FORMAT_PACKAGE, check_buildspec
good, bad = Path(sys.argv[1]) / "good.yml", Path(sys.argv[1]) / "bad.yml"
good.write_text("version: 0.2\\nphases:\\n  build:\\n    commands:\\n      - make\\n")
bad.write_text("version: 0.2\\nphases:\\n  build:\\n    commands: make\\n")
print(check_buildspec(good, "good")[0].status.name, check_buildspec(bad, "bad")[0].status.name,
      any(name.split(".")[0] == UNUSED_FORMAT_PACKAGE for name in sys.modules))
import rfc3987_syntax   # left out of jsonschema's import only: anyone else can still import it
"""


def test_buildspec_checks_load_no_format_package_and_still_fail_a_bad_buildspec(tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["PASS", "FAIL", "False"]
