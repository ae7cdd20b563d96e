"""Credentials inside URLs (``postgresql://user:secret@host/db``) never printed or logged.

A storage or tracking URL may carry a password, in its user part or as a ``password=`` query
parameter. Everything the harness prints, logs or writes about such a URL goes through
``redact`` (the URL) or ``redact_text`` (free text that may quote it, such as an error message
or a log tail), which put ``***`` in the secret's place. Better still, keep the password out of
the URL: PostgreSQL's ``PGPASSWORD`` and ``~/.pgpass`` (or ``PGPASSFILE``) are read by the
driver when the URL names no password, and MLflow reads ``MLFLOW_TRACKING_USERNAME`` and
``MLFLOW_TRACKING_PASSWORD``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlsplit

HIDDEN = "***"
SECRET_PARAMETERS = ("password", "sslpassword", "passfile")


def _split(url: str):
    try:
        return urlsplit(url)
    except ValueError:
        return None


def secrets_of(url: str) -> list[str]:
    """The secret parts of ``url`` as they appear in it and as they decode (may repeat)."""
    parts = _split(url)
    if parts is None:
        return []
    found = []
    userinfo = parts.netloc.rpartition("@")[0]
    if ":" in userinfo:
        found.append(userinfo.split(":", 1)[1])
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in SECRET_PARAMETERS and value:
            found += [value, quote(value, safe="")]
    found += [unquote(secret) for secret in found]
    return [secret for secret in dict.fromkeys(found) if secret]


def has_secret(url: str) -> bool:
    return bool(secrets_of(url))


def redact_text(text: str, *urls: str | None) -> str:
    """``text`` with every secret of ``urls`` replaced by ``***`` (longest first)."""
    secrets = sorted({secret for url in urls if url for secret in secrets_of(url)}, key=len,
                     reverse=True)
    for secret in secrets:
        text = text.replace(secret, HIDDEN)
    return text


def _hidden_parameter(piece: str) -> str:
    name = unquote(piece.split("=", 1)[0])
    return f"{piece.split('=', 1)[0]}={HIDDEN}" if name.lower() in SECRET_PARAMETERS else piece


def redact(url: str) -> str:
    """``url`` with its password (user part or query parameter) replaced by ``***``."""
    parts = _split(url)
    if parts is None or not has_secret(url):
        return url
    userinfo, at, host = parts.netloc.rpartition("@")
    if ":" in userinfo:
        userinfo = f"{userinfo.split(':', 1)[0]}:{HIDDEN}"
    query = "&".join(_hidden_parameter(piece) for piece in parts.query.split("&"))
    return (f"{parts.scheme}://{userinfo}{at}{host}{parts.path}"
            + (f"?{query}" if parts.query else "")
            + (f"#{parts.fragment}" if parts.fragment else ""))
