"""Passwords in storage and tracking URLs are replaced by *** wherever they would be shown."""

from __future__ import annotations

import pytest

from harness.redaction import has_secret, redact, redact_text

SECRET = "secretpw"


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://user:secretpw@db-host:5432/optuna", "postgresql://user:***@db-host:5432/optuna"),
    ("postgresql+psycopg://user:secretpw@db-host/optuna?sslmode=require",
     "postgresql+psycopg://user:***@db-host/optuna?sslmode=require"),
    ("postgresql://user@db-host/optuna?password=secretpw&sslmode=require",
     "postgresql://user@db-host/optuna?password=***&sslmode=require"),
    ("http://alice:secretpw@mlflow-host:5000", "http://alice:***@mlflow-host:5000"),
])
def test_passwords_are_hidden_and_the_rest_of_the_url_kept(url: str, shown: str) -> None:
    assert has_secret(url)
    assert redact(url) == shown


@pytest.mark.parametrize("url", ["sqlite:////tmp/state/optuna.db", "postgresql://user@db/optuna",
                                 "http://127.0.0.1:5000", "not a url"])
def test_urls_without_a_password_are_unchanged(url: str) -> None:
    assert not has_secret(url)
    assert redact(url) == url


def test_text_quoting_a_url_loses_the_password_in_either_spelling() -> None:
    url = "postgresql://user:p%40ss@db/optuna"
    text = f"could not connect to {url}; the password p@ss was refused"
    assert redact_text(text, url, None) == ("could not connect to postgresql://user:***@db/optuna;"
                                           " the password *** was refused")
    assert SECRET not in redact_text(f"tail: {SECRET}", f"postgresql://u:{SECRET}@h/d")
