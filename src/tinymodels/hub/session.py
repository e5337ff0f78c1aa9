"""The Hub session of an upload: the token, its redaction, HTTP timeouts and retries.

The token is only handed to `HfApi`; every message we print or store goes through a
`Redactor`. Every request runs under a client-side timeout (`configure_http`).
Transient failures (429/5xx/408, timeouts, dropped connections) are retried with
backoff (`with_retry`), honouring `Retry-After`.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from tinymodels import environment, log
from tinymodels.errors import UploadError

DEFAULT_TIMEOUT: Final[float] = 60.0
DEFAULT_MAX_ATTEMPTS: Final[int] = 5
# Backoff between attempts: base * 2**(n-1), capped; env override keeps tests fast.
DEFAULT_BACKOFF: Final[float] = 2.0
MAX_BACKOFF: Final[float] = 60.0
TRANSIENT_STATUS: Final[frozenset[int]] = frozenset({408, 429, 500, 502, 503, 504})

T = TypeVar("T")


# --------------------------------------------------------------------------- secrets


class Redactor:
    """Replaces the token in any text we print or store."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, text: object) -> str:
        s = str(text)
        if self.token and len(self.token) >= 4:
            s = s.replace(self.token, mask_token(self.token))
        return s


def mask_token(token: str | None) -> str:
    """A printable stand-in for a token (never more than its 3-char prefix)."""
    if not token:
        return "<none>"
    return f"{token[:3]}***" if token.startswith("hf_") else "***"


def resolve_token(token: str | None) -> str:
    """`token`, else `$HF_TOKEN`, else the stored login; `UploadError` when there is none."""
    if token:
        return token
    from_env = environment.hf_token()
    if from_env:
        return from_env
    from huggingface_hub import get_token

    stored = get_token()
    if not stored:
        raise UploadError("no Hub token: set HF_TOKEN or pass --token (a token with write access)")
    return stored


# --------------------------------------------------------------------------- HTTP


_HTTP_LOCK = threading.Lock()
_HTTP_TIMEOUT: float | None = None


def configure_http(timeout: float) -> None:
    """Give every huggingface_hub request a timeout (the client's default is none: a stalled
    server would hang us forever). Process-wide, since the client shares one session."""
    global _HTTP_TIMEOUT
    import httpx2
    from huggingface_hub import set_client_factory

    with _HTTP_LOCK:
        if _HTTP_TIMEOUT == timeout:
            return

        def factory() -> httpx2.Client:
            try:
                # Keep the client's own request hook (offline mode, request ids).
                from huggingface_hub.utils._http import default_client_factory

                client = default_client_factory()
            except ImportError:  # pragma: no cover - private helper moved
                client = httpx2.Client(follow_redirects=True)
            client.timeout = httpx2.Timeout(timeout, connect=min(timeout, 10.0))
            return client

        set_client_factory(factory)
        _HTTP_TIMEOUT = timeout


def http_timeout() -> float | None:
    """The timeout `configure_http` set (None before it ran): calls that take their own
    `timeout` argument (None = no timeout at all) must pass it explicitly."""
    return _HTTP_TIMEOUT


# --------------------------------------------------------------------------- errors and retries


def status_code(exc: BaseException) -> int | None:
    """The HTTP status of an error that carries a response, else None."""
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def error_chain(exc: BaseException) -> Iterable[BaseException]:
    """`exc` and its causes (LFS threads wrap HTTP errors in RuntimeError)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def is_transient(exc: BaseException) -> bool:
    """429/5xx/408, timeouts, network and protocol errors: worth another attempt."""
    import httpx2

    for e in error_chain(exc):
        status = status_code(e)
        if status is not None:
            return status in TRANSIENT_STATUS
        if isinstance(e, httpx2.TimeoutException | httpx2.NetworkError | httpx2.RemoteProtocolError):
            return True
        if type(e) is ConnectionError:  # hf_xet transfer failures
            return True
    return False


def retry_after(exc: BaseException) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date), if any."""
    for e in error_chain(exc):
        response = getattr(e, "response", None)
        headers = getattr(response, "headers", None)
        if not headers:
            continue
        value = headers.get("Retry-After")
        if not value:
            continue
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return None


def _backoff_base() -> float:
    return environment.upload_backoff(DEFAULT_BACKOFF)


def backoff_delay(attempt: int, exc: BaseException) -> float:
    """Delay before attempt `attempt + 1`: Retry-After when given, else exponential."""
    hinted = retry_after(exc)
    if hinted is not None:
        return min(hinted, MAX_BACKOFF)
    return min(_backoff_base() * 2 ** (attempt - 1), MAX_BACKOFF)


def describe(exc: BaseException) -> str:
    """`ExcClass: message` on one line (upstream's failed_uploads shape)."""
    msg = " ".join(str(exc).split()) or repr(exc)
    return f"{type(exc).__name__}: {msg}"


def hint(exc: BaseException) -> str:
    """What to do next, for errors whose fix is on the user's side."""
    status = None
    for e in error_chain(exc):
        status = status_code(e) or status
    if status == 401:
        return " Check HF_TOKEN / --token: the Hub rejected the token."
    if status == 403:
        return " Check that the token has write access to the organization."
    if is_transient(exc):
        return " The Hub kept failing or timing out; re-run later (re-runs skip what is already published)."
    return ""


def with_retry(fn: Callable[[], T], what: str, redact: Callable[[object], str],
               max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> T:
    """Run an idempotent call, retrying transient failures with backoff (bounded)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:  # is_transient decides: the rest is re-raised
            if not is_transient(exc) or attempt >= max_attempts:
                raise
            delay = backoff_delay(attempt, exc)
            log.warning(redact(f"{what}: {describe(exc)}; retrying in {delay:.1f}s "
                               f"(attempt {attempt + 1}/{max_attempts})"))
            time.sleep(delay)


# --------------------------------------------------------------------------- who the token is


@dataclass(frozen=True)
class Who:
    """The token's owner and the organizations it belongs to."""

    name: str
    orgs: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name


def check_token(api: Any, token: str, redact: Callable[[object], str], max_attempts: int) -> Who:
    """Fail fast, before any upload, on a rejected token or an unreachable Hub."""
    try:
        who = with_retry(lambda: api.whoami(token=token), "check token", redact, max_attempts)
    except Exception as exc:  # noqa: BLE001 - re-raised as UploadError, with the token redacted from the message
        if status_code(exc) == 401:
            raise UploadError(f"the Hub at {api.endpoint} rejected the token ({mask_token(token)}): "
                              "check HF_TOKEN / --token") from None
        raise UploadError(redact(f"cannot reach the Hub at {api.endpoint}: {describe(exc)}. Check "
                                 "HF_ENDPOINT and your network, then re-run.")) from None
    return Who(str(who.get("name") or "?"),
               tuple(str(o.get("name")) for o in who.get("orgs") or () if isinstance(o, dict) and o.get("name")))


def check_namespace(who: Who, organization: str, endpoint: str) -> None:
    """The token must be able to publish under `organization` (its user or one of its orgs)."""
    allowed = {who.name, *who.orgs}
    if organization not in allowed:
        raise UploadError(f"--organization {organization!r} is neither the token's user ({who.name!r}) nor one "
                          f"of its organizations ({', '.join(sorted(who.orgs)) or 'none'}) on {endpoint}; "
                          "nothing was uploaded")
    log.info(f"organization {organization!r} checked: the token's {'user' if organization == who.name else 'org'}")
