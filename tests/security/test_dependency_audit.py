"""CI's reading of pip-audit: a known vulnerability always fails; only an unreachable
vulnerability service passes, and then it says plainly that nothing was audited."""

from __future__ import annotations

from scripts.dependency_audit import verdict

VULNERABLE = {
    "dependencies": [
        {"name": "flask", "version": "3.1.0", "vulns": []},
        {
            "name": "werkzeug",
            "version": "2.0.0",
            "vulns": [{"id": "PYSEC-2023-58", "fix_versions": ["2.2.3"]}],
        },
        {"name": "rq", "skip_reason": "Dependency not found on PyPI"},
    ]
}


def test_a_known_vulnerability_fails_even_when_the_exit_code_or_network_says_otherwise() -> None:
    for code, stderr in ((1, ""), (0, ""), (1, "requests.exceptions.ConnectionError: boom")):
        judged = verdict(VULNERABLE, code, stderr)
        assert judged.failed
        assert any("werkzeug 2.0.0: PYSEC-2023-58 (2.2.3)" in line for line in judged.lines)


def test_an_unreachable_service_passes_and_says_nothing_was_audited() -> None:
    judged = verdict(None, 1, "ConnectionError: Max retries exceeded with url: /v1/query")
    assert not judged.failed and "NOT AUDITED" in judged.lines[0]
    every_one_skipped = {"dependencies": [{"name": "rq", "skip_reason": "not found"}]}
    judged = verdict(every_one_skipped, 0, "No known vulnerabilities found")
    assert not judged.failed and "NOT AUDITED" in judged.lines[0]


def test_any_other_failure_of_pip_audit_fails() -> None:
    assert verdict(None, 2, "error: unrecognized arguments").failed


def test_a_clean_audit_passes_with_its_count() -> None:
    clean = {"dependencies": [{"name": "flask", "version": "3.1.0", "vulns": []}]}
    judged = verdict(clean, 0, "")
    assert not judged.failed and judged.lines == [
        "pip-audit: 1 packages audited: no known vulnerabilities."
    ]
