"""The HTTP session every connector uses: timeouts, and retries with backoff on 429 and 5xx."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from dxw.settings import Settings

RETRY_STATUSES = (429, 500, 502, 503, 504)


def session(settings: Settings) -> requests.Session:
    """A session that retries idempotent reads, honouring ``Retry-After``."""
    retry = Retry(
        total=settings.http_retries,
        connect=settings.http_retries,
        read=settings.http_retries,
        status=settings.http_retries,
        backoff_factor=0.5,
        backoff_max=30,
        status_forcelist=RETRY_STATUSES,
        # The portal's statistics endpoints are POST reads: safe to repeat.
        allowed_methods=frozenset({"GET", "POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    http = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    http.headers["User-Agent"] = "dxw/0.1 (+https://github.com/dxw-data/dxw)"
    return http


def timeout(settings: Settings) -> tuple[float, float]:
    return (settings.http_timeout_connect, settings.http_timeout_read)
