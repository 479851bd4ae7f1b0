"""SECRET_KEY: required outside development; generated ones are private from the first byte."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import MissingSecretKey, create_app
from app.config import Config


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SEATWISE_DEMO", raising=False)
    monkeypatch.delenv("SEATWISE_DEVELOPMENT", raising=False)
    old = os.umask(0)  # the most permissive umask a process could run with
    try:
        yield
    finally:
        os.umask(old)


def test_production_without_secret_key_refuses_to_start(
    no_key: None, tmp_path: Path, redis_url: str
) -> None:
    with pytest.raises(MissingSecretKey, match="SECRET_KEY is not set"):
        create_app(
            {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "REDIS_URL": redis_url}
        )
    assert list(tmp_path.iterdir()) == []  # nothing was made


def test_a_generated_key_file_is_never_readable_by_others(
    no_key: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEATWISE_DEVELOPMENT", "1")

    def crash(self: Path, mode: int) -> None:
        raise KeyboardInterrupt  # the process is stopped right after writing the file

    monkeypatch.setattr(Path, "chmod", crash)
    with contextlib.suppress(KeyboardInterrupt):
        Config(tmp_path)
    key_file = tmp_path / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left


def test_a_generated_key_is_kept_across_starts(
    no_key: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEATWISE_DEMO", "1")
    first = Config(tmp_path).SECRET_KEY
    assert first and first == Config(tmp_path).SECRET_KEY
