"""Runs the tools under test as a user would: their own process, their exit
status and their messages (tests/python)."""

import os
import subprocess
import sys

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                     "tools", "python")
TEST_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                         "data")


def run(argv, expect_rc=0, cwd=None):
    """Runs argv; fails with its output unless it exits with expect_rc.
    Returns (stdout, stderr)."""
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                       timeout=300)
    if p.returncode != expect_rc:
        raise AssertionError(
            "%s exited %d (expected %d)\n--- stdout\n%s--- stderr\n%s"
            % (" ".join(argv), p.returncode, expect_rc, p.stdout, p.stderr))
    return p.stdout, p.stderr


def run_python_tool(script, *args, expect_rc=0, cwd=None):
    """Runs tools/python/SCRIPT with this interpreter."""
    return run([sys.executable, os.path.join(TOOLS, script), *args],
               expect_rc=expect_rc, cwd=cwd)
