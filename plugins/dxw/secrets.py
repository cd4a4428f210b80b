"""Keeping passwords and tokens out of what dxw prints, logs and stores.

One rule everywhere: a URL is shown with its password replaced by ``***`` and the values of
query parameters that look like credentials (``token``, ``api_key``, ``password``...) too, so
``postgresql://dxw:s3cret@db:5432/dxw`` is shown as ``postgresql://dxw:***@db:5432/dxw``. The
user, host, port and path stay: they are what an engineer needs to tell which server it was.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"
# Query parameters whose value is a credential (compared lower-case, '-' read as '_').
SECRET_PARAMETERS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "auth",
        "client_secret",
        "key",
        "pass",
        "passwd",
        "password",
        "pwd",
        "secret",
        "sig",
        "signature",
        "token",
    }
)
# "scheme://user:password@" in a text (an error message): the password runs to the last "@"
# before a space, "?" or "#".
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)(?P<password>[^\s?#]*)@")
# "password=..." in a libpq key/value connection string (quoted, or up to the next space).
_KEY_VALUE_PASSWORD = re.compile(
    r"(?P<head>\bpassword\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE
)
_QUERY_VALUE = re.compile(r"(?P<head>[?&;](?P<name>[A-Za-z0-9_.-]+)=)(?P<value>[^&;#\s]*)")


def _is_secret_parameter(name: str) -> bool:
    name = name.lower().replace("-", "_")
    return name in SECRET_PARAMETERS or name.endswith(("_token", "_secret", "_password", "_key"))


def mask_url(url: str) -> str:
    """``url`` with its password and credential-like query values replaced by ``***``.

    Works on malformed URLs too (a password holding ``@`` or ``/``, a port that is not a number):
    nothing is parsed that could fail, so masking never raises and never gives the URL back whole.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        # A key/value connection string ("host=... password=..."), or no URL at all.
        return _KEY_VALUE_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", _mask_query(url))
    userinfo = _userinfo(rest)
    user, colon, password = userinfo.partition(":")
    if colon and password:
        url = f"{scheme}://{user}:{MASK}{rest[len(userinfo) :]}"
    return _mask_query(url)


def _userinfo(rest: str) -> str:
    """The user-info of a URL's part after ``scheme://``, for masking: rather too much than too little.

    It ends at the last "@" before the query (a password may hold "@" or "/"); with no "@" there,
    at the last "@" at all: an unencoded "?" or "#" in the password starts the "query" early.
    """
    before_query = re.split(r"[?#]", rest, maxsplit=1)[0]
    userinfo, at, _ = before_query.rpartition("@")
    if not at:
        userinfo = rest.rpartition("@")[0]
    return userinfo


def _mask_query(text: str) -> str:
    return _QUERY_VALUE.sub(
        lambda m: f"{m['head']}{MASK}" if m["value"] and _is_secret_parameter(m["name"]) else m[0], text
    )


def secrets_in(url: str | None) -> list[str]:
    """The credentials a URL carries (its password, credential-like query values), raw and decoded."""
    if not url:
        return []
    found: list[str] = []
    _, separator, rest = url.partition("://")
    userinfo = _userinfo(rest) if separator else ""
    if ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    if not separator:
        found += [m["value"] for m in _KEY_VALUE_PASSWORD.finditer(url)]
    found += [m["value"] for m in _QUERY_VALUE.finditer(url) if _is_secret_parameter(m["name"])]
    decoded = [unquote(secret) for secret in found]
    # Longest first, so that a secret containing another is replaced whole.
    return sorted({s for s in found + decoded if s}, key=len, reverse=True)


def scrub(text: str, *urls: str | None) -> str:
    """``text`` (an error message, a log line) without the secrets of ``urls`` or of any URL in it.

    Libraries quote what they were given in their errors (requests the query string, a parser
    the part it choked on): every credential of the URLs in play is replaced wherever it shows.
    """
    for url in urls:
        for secret in secrets_in(url):
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: f"{m['head']}{MASK}@" if m["password"] else m[0], text)
    return _mask_query(text)
