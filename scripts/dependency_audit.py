"""CI's dependency audit: pip-audit over the installed packages, read strictly.

- A known vulnerability fails the run (exit 1), whatever else happened.
- pip-audit failing for any other reason than an unreachable vulnerability service fails too.
- When the vulnerability service cannot be reached, or knows none of the packages from this
  machine (every one skipped: nothing was audited), the run says so loudly and passes:
  a network gap must not block CI, and must not read as "no known vulnerabilities" either.

Usage: python scripts/dependency_audit.py [path/to/pip-audit]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NETWORK_ERRORS = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "ConnectTimeout",
    "ReadTimeout",
    "Temporary failure in name resolution",
    "Network is unreachable",
)


@dataclass(frozen=True)
class Verdict:
    """What CI prints, and whether it fails."""

    failed: bool
    lines: list[str]


def verdict(report: dict[str, Any] | None, returncode: int, stderr: str) -> Verdict:
    """Judge one pip-audit run from its JSON report (None if it wrote none)."""
    deps = (report or {}).get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    if vulnerable:
        lines = ["pip-audit: KNOWN VULNERABILITIES in installed packages:"]
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
                lines.append(f"  {dep['name']} {dep.get('version', '?')}: {vuln['id']} ({fixes})")
        return Verdict(True, lines)
    if returncode != 0:
        if any(marker in stderr for marker in NETWORK_ERRORS):
            last = stderr.strip().splitlines()[-1][:300] if stderr.strip() else ""
            return Verdict(
                False,
                [
                    "pip-audit: NOT AUDITED: the vulnerability service cannot be reached from "
                    "this machine (a network error, not a finding).",
                    f"  {last}",
                ],
            )
        return Verdict(True, [f"pip-audit failed (exit {returncode}):", stderr.strip()[-2000:]])
    audited = [d for d in deps if "skip_reason" not in d]
    skipped = len(deps) - len(audited)
    if not audited:
        return Verdict(
            False,
            [
                "pip-audit: NOT AUDITED: the vulnerability service knows none of the "
                f"{skipped} installed packages from this machine; run pip-audit where its "
                "vulnerability service can be reached."
            ],
        )
    note = f", {skipped} skipped" if skipped else ""
    return Verdict(
        False, [f"pip-audit: {len(audited)} packages audited{note}: no known vulnerabilities."]
    )


def main(argv: list[str]) -> int:
    """Run pip-audit and print the verdict; the exit code is CI's."""
    pip_audit = argv[1] if len(argv) > 1 else str(Path(".venv/bin/pip-audit"))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "audit.json"
        run = subprocess.run(
            [
                pip_audit,
                "--skip-editable",
                "--progress-spinner",
                "off",
                "-f",
                "json",
                "-o",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        report = json.loads(out.read_text()) if out.exists() and out.stat().st_size else None
    judged = verdict(report, run.returncode, run.stderr)
    print("\n".join(judged.lines))
    return 1 if judged.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
