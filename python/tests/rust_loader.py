"""Runs the crate's command line, `vanishing-gradient diagnose --json PATH`, on a history file."""

import json
import os
import subprocess

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# The command line's exit codes (src/bin/vanishing-gradient.rs).
EXIT_NO_PROBLEM = 0
EXIT_PROBLEM = 3


def diagnose(path):
    """The diagnosis (a dict, as the command line's `--json` prints it), its exit code and its
    whole output. Fails if the file does not load."""
    command = os.environ.get("VG_CLI")
    if command:
        argv = [command, "diagnose", "--json", path]
    else:
        argv = ["cargo", "run", "--quiet", "--release", "--features", "cli",
                "--bin", "vanishing-gradient", "--", "diagnose", "--json", path]
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode in (EXIT_NO_PROBLEM, EXIT_PROBLEM), f"diagnose failed:\n{output}"
    diagnosis = json.loads(result.stdout)
    print(diagnosis["problem"], diagnosis["confidence"])
    return diagnosis, result.returncode, output


def findings_about(diagnosis, problem):
    """The findings of `diagnosis` about `problem` (e.g. "VanishingGradient")."""
    return [f for f in diagnosis["findings"] if f["problem"] == problem]
