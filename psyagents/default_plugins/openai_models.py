"""``openai:`` chat models through langchain-openai, for OpenAI and any OpenAI-compatible server.

The base URL comes from the ``base_url`` option, else ``PSYAGENTS_OPENAI_BASE_URL``,
else ``OPENAI_BASE_URL``; so ``openai:NAME?base_url=http://127.0.0.1:8000/v1``
reaches a local vLLM or llama.cpp server. Local servers need no key.

Transport behaviour is explicit and set through the model string (defaults in
``TRANSPORT_DEFAULTS``): ``timeout`` (seconds for connecting and for each read,
so for a streamed reply the longest gap between chunks), ``max_retries`` (retries
after a 408, 409, 429 or 5xx reply, a timeout or a failed connection), ``backoff``
and ``max_backoff`` (the first retry waits ``backoff`` seconds, doubling up to
``max_backoff``; a ``Retry-After`` header wins, up to ``RETRY_AFTER_CAP``) and
``max_in_flight`` (requests in flight at once, shared by every model naming the
same base URL and limit in this process; 0 means no limit). The OpenAI SDK's own
retries are turned off so there is one retry policy. When the retries run out the
call raises ``ModelServerError`` naming the model, the base URL, the status and
the attempts. A stream that breaks after its first chunk is not retried (its
tokens have already been shown); it raises at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import importlib
import os
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from psyagents.errors import PsyagentsError
from psyagents.hookspecs import hookimpl

OPENAI_BASE_URL = "https://api.openai.com/v1"
RETRY_AFTER_CAP = 60.0  # seconds; a server asking for longer is retried after this long
RETRY_STATUSES = frozenset({408, 409, 429})  # and every 5xx

_FLOAT = ("temperature", "top_p", "frequency_penalty", "presence_penalty")
_INT = ("max_tokens", "seed")
_STR = ("base_url", "api_key", "organization")

# name -> (converter, valid?, what a valid value looks like, default)
TRANSPORT_OPTIONS: dict[str, tuple[type, Any, str, float | int]] = {
    "timeout": (float, lambda v: v > 0, "a number of seconds > 0", 120.0),
    "max_retries": (int, lambda v: v >= 0, "a whole number >= 0", 2),
    "backoff": (float, lambda v: v >= 0, "a number of seconds >= 0", 0.5),
    "max_backoff": (float, lambda v: v >= 0, "a number of seconds >= 0", 8.0),
    "max_in_flight": (int, lambda v: v >= 0, "a whole number >= 0; 0 means no limit", 0),
}
TRANSPORT_DEFAULTS = {key: spec[3] for key, spec in TRANSPORT_OPTIONS.items()}


class ModelServerError(PsyagentsError):
    """A model server that failed (or kept failing until the retries ran out)."""

    def __init__(self, message: str, *, base_url: str, status: int | None, attempts: int):
        super().__init__(message)
        self.base_url = base_url
        self.status = status
        self.attempts = attempts


def openai_chat_model(name: str, options: dict[str, str]):
    """Build ``openai:NAME?options``; raises PsyagentsError naming a bad option."""
    known = _FLOAT + _INT + _STR + tuple(TRANSPORT_OPTIONS)
    kwargs: dict = {}
    transport = dict(TRANSPORT_DEFAULTS)
    for key, value in options.items():
        try:
            if key in TRANSPORT_OPTIONS:
                convert, valid, expected, _ = TRANSPORT_OPTIONS[key]
                transport[key] = convert(value)
                if not valid(transport[key]):
                    raise PsyagentsError(f"openai model option '{key}': bad value {value!r}, expected {expected}")
            elif key in _FLOAT:
                kwargs[key] = float(value)
            elif key in _INT:
                kwargs[key] = int(value)
            elif key in _STR:
                kwargs[key] = value
            else:
                raise PsyagentsError(f"openai models take no option '{key}'; known: {', '.join(known)}")
        except ValueError:
            raise PsyagentsError(f"openai model option '{key}': bad value {value!r}") from None
    base_url = kwargs.pop("base_url", None) or os.environ.get("PSYAGENTS_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    api_key = kwargs.pop("api_key", None) or os.environ.get("OPENAI_API_KEY")
    if base_url:
        kwargs["base_url"] = base_url
        api_key = api_key or "not-needed"  # OpenAI-compatible local servers ignore the key
    if not api_key:
        raise PsyagentsError(f"openai:{name} needs OPENAI_API_KEY, or a base_url for an OpenAI-compatible server")
    return compatible_chat_model_class()(
        model=name,
        api_key=api_key,
        stream_usage=True,
        timeout=transport["timeout"],
        stream_chunk_timeout=transport["timeout"],
        max_retries=0,  # retries are ours, below: one policy, with errors that name the server
        retries=transport["max_retries"],
        backoff=transport["backoff"],
        max_backoff=transport["max_backoff"],
        max_in_flight=transport["max_in_flight"],
        **kwargs,
    )


@hookimpl(trylast=True)
def register_chat_models(register):
    register(
        "openai",
        openai_chat_model,
        description="OpenAI or any OpenAI-compatible server (vLLM, llama.cpp): openai:NAME?base_url=URL&timeout=S&max_retries=N",
    )


# --- in-flight limit -----------------------------------------------------------------------------


class InFlightLimit:
    """A semaphore shared by threads and event loops: at most ``limit`` requests in flight, first come first served.

    A released slot is handed straight to the longest waiter, so a steady stream of
    new callers cannot starve one that has been waiting.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.in_flight = 0
        self._lock = threading.Lock()
        self._waiters: deque = deque()  # threading.Event or (loop, future)

    def acquire(self) -> None:
        with self._lock:
            if self.in_flight < self.limit and not self._waiters:
                self.in_flight += 1
                return
            ready = threading.Event()
            self._waiters.append(ready)
        try:
            ready.wait()
        except BaseException:  # Ctrl-C while waiting: give back the slot, or stop waiting for one
            with self._lock:
                if ready in self._waiters:
                    self._waiters.remove(ready)
                    raise
            self.release()  # the slot was handed over as we were interrupted
            raise

    async def aacquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.in_flight < self.limit and not self._waiters:
                self.in_flight += 1
                return
            future = loop.create_future()
            waiter = (loop, future)
            self._waiters.append(waiter)
        try:
            await future
        except asyncio.CancelledError:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    raise
            if future.done() and not future.cancelled():  # handed a slot just as we were cancelled
                self.release()
            raise  # (a cancelled future gets its slot released by _hand_over)

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                if isinstance(waiter, threading.Event):
                    waiter.set()
                    return
                loop, future = waiter
                try:
                    loop.call_soon_threadsafe(self._hand_over, future)
                    return
                except RuntimeError:  # its event loop is closed: nobody is waiting there any more
                    continue
            self.in_flight -= 1

    def _hand_over(self, future: asyncio.Future) -> None:
        if future.done():  # the waiter was cancelled meanwhile: pass the slot on
            self.release()
        else:
            future.set_result(None)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    @contextlib.asynccontextmanager
    async def aslot(self) -> AsyncIterator[None]:
        await self.aacquire()
        try:
            yield
        finally:
            self.release()


_LIMITS: dict[tuple[str, int], InFlightLimit] = {}
_LIMITS_LOCK = threading.Lock()


def in_flight_limit(base_url: str, limit: int) -> InFlightLimit:
    """The process-wide limit for one base URL (models with the same URL and limit share it)."""
    with _LIMITS_LOCK:
        return _LIMITS.setdefault((base_url, limit), InFlightLimit(limit))


# --- async HTTP clients, one per event loop ----------------------------------------------------

# langchain-openai shares one cached async HTTP client per base URL; its pooled connections belong
# to the event loop that opened them, so a second asyncio.run() reusing them fails with "Event
# loop is closed". Each loop gets its own client here, shared by the models calling it.
_ASYNC_HTTP: dict[tuple[int, str], tuple[asyncio.AbstractEventLoop, Any]] = {}
_ASYNC_HTTP_LOCK = threading.Lock()


def async_http_client(base_url: str) -> Any:
    """The async HTTP client for ``base_url`` on the running event loop."""
    import openai

    loop = asyncio.get_running_loop()
    with _ASYNC_HTTP_LOCK:
        for key, (owner, _) in list(_ASYNC_HTTP.items()):
            if owner.is_closed():  # its connections died with their loop
                del _ASYNC_HTTP[key]
        key = (id(loop), base_url)
        if key not in _ASYNC_HTTP:
            _ASYNC_HTTP[key] = (loop, openai.DefaultAsyncHttpxClient())
        return _ASYNC_HTTP[key][1]


# --- failures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One failed attempt, described for a user."""

    what: str
    status: int | None = None
    retryable: bool = True
    retry_after: float | None = None


@functools.cache
def _transport_errors() -> tuple[type[BaseException], ...]:
    import openai

    errors: list[type[BaseException]] = [openai.APIError, TimeoutError]
    # openai>=3 is built on httpx2, older releases on httpx; a broken stream raises theirs.
    for module in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(module).HTTPError)
        except ImportError:
            pass
    return tuple(errors)


def parse_retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds a server asks to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        body = body.get("error", body)
        if isinstance(body, dict):
            body = body.get("message") or body
    text = str(body if body else getattr(exc, "message", "") or "").strip()
    return text[:200] + ("..." if len(text) > 200 else "")


def classify(exc: BaseException, timeout: float) -> Failure:
    """What went wrong in one attempt, and whether another attempt may help."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        reason = getattr(exc.response, "reason_phrase", "") or ""
        said = _server_message(exc)
        return Failure(
            what=f"HTTP {status} {reason}".rstrip() + (f" ({said})" if said else ""),
            status=status,
            retryable=status in RETRY_STATUSES or status >= 500,
            retry_after=parse_retry_after(getattr(exc.response, "headers", None)),
        )
    kinds = {cls.__name__ for cls in type(exc).__mro__}  # httpx and httpx2 share these names
    if isinstance(exc, (openai.APITimeoutError, TimeoutError)) or "TimeoutException" in kinds:
        return Failure(what=f"no response within the {timeout:g} s timeout")
    if isinstance(exc, openai.APIConnectionError) or "TransportError" in kinds:
        return Failure(what=f"connection failed ({_root_cause(exc)})")
    # A reply that arrived but could not be read (not JSON, not the expected shape): retrying will not help.
    return Failure(what=f"unreadable reply ({type(exc).__name__}: {_root_cause(exc)})", retryable=False)


def _root_cause(exc: BaseException) -> str:
    """The innermost message of an exception chain: the SDK's own says only 'Connection error.'."""
    seen: set[int] = set()
    detail = ""
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        detail = str(current).strip() or detail or type(current).__name__
        current = current.__cause__ or current.__context__
    return detail


# --- the model -----------------------------------------------------------------------------------

@functools.cache
def compatible_chat_model_class() -> type:
    """``CompatibleChatOpenAI``, defined on first use so that loading plugins does not import langchain-openai."""
    from langchain_openai import ChatOpenAI
    from pydantic import PrivateAttr

    class CompatibleChatOpenAI(ChatOpenAI):
        """ChatOpenAI with one explicit retry policy, an in-flight limit per base URL, and errors naming the server."""

        retries: int = 2
        backoff: float = 0.5
        max_backoff: float = 8.0
        max_in_flight: int = 0
        _bound_http: Any = PrivateAttr(default=None)

        @property
        def endpoint(self) -> str:
            return (self.openai_api_base or OPENAI_BASE_URL).rstrip("/")

        def _timeout(self) -> float:
            return float(self.request_timeout) if isinstance(self.request_timeout, (int, float)) else 0.0

        def _limit(self) -> InFlightLimit | None:
            return in_flight_limit(self.endpoint, self.max_in_flight) if self.max_in_flight else None

        def _failure(self, exc: BaseException) -> Failure:
            return classify(exc, self._timeout())

        def _delay(self, retry: int, failure: Failure) -> float:
            if failure.retry_after is not None:
                return min(failure.retry_after, RETRY_AFTER_CAP)
            # Jitter keeps many sessions that failed together from retrying in lockstep.
            return min(self.max_backoff, self.backoff * 2**retry) * random.uniform(0.8, 1.0)

        def _error(self, failure: Failure, attempts: int, chunks: int = 0) -> ModelServerError:
            if chunks:
                how = f"the stream broke after {chunks} chunk{'s' * (chunks != 1)}: {failure.what}"
            elif attempts == 1 and not failure.retryable:
                how = failure.what
            else:
                how = f"{failure.what}, after {attempts} attempt{'s' * (attempts != 1)} (max_retries={self.retries})"
            return ModelServerError(f"openai:{self.model_name} at {self.endpoint}: {how}", base_url=self.endpoint, status=failure.status, attempts=attempts)

        def _bind_loop(self) -> None:
            """Point the async clients at this event loop's HTTP client (see async_http_client)."""
            http = async_http_client(self.endpoint)
            if self._bound_http is not http:
                root = self.root_async_client.copy(http_client=http)
                object.__setattr__(self, "root_async_client", root)
                object.__setattr__(self, "async_client", root.chat.completions)
                self._bound_http = http

        def _give_up(self, failure: Failure, retry: int) -> bool:
            return not failure.retryable or retry >= self.retries

        # Each attempt holds an in-flight slot until its reply has been read; the backoff sleeps hold none.

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            parent = super()._generate
            errors = _transport_errors()
            limit = self._limit()
            for retry in range(self.retries + 1):
                try:
                    with limit.slot() if limit else contextlib.nullcontext():
                        return parent(messages, stop=stop, run_manager=run_manager, **kwargs)
                except errors as exc:
                    failure = self._failure(exc)
                    if self._give_up(failure, retry):
                        raise self._error(failure, retry + 1) from exc
                time.sleep(self._delay(retry, failure))
            raise AssertionError("unreachable")

        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
            parent = super()._agenerate
            self._bind_loop()
            errors = _transport_errors()
            limit = self._limit()
            for retry in range(self.retries + 1):
                try:
                    async with limit.aslot() if limit else contextlib.nullcontext():
                        return await parent(messages, stop=stop, run_manager=run_manager, **kwargs)
                except errors as exc:
                    failure = self._failure(exc)
                    if self._give_up(failure, retry):
                        raise self._error(failure, retry + 1) from exc
                await asyncio.sleep(self._delay(retry, failure))
            raise AssertionError("unreachable")

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            parent = super()._stream
            errors = _transport_errors()
            limit = self._limit()
            for retry in range(self.retries + 1):
                chunks = 0
                try:
                    with limit.slot() if limit else contextlib.nullcontext():
                        for chunk in parent(messages, stop=stop, run_manager=run_manager, **kwargs):
                            chunks += 1
                            yield chunk
                    return
                except errors as exc:
                    failure = self._failure(exc)
                    if chunks or self._give_up(failure, retry):
                        raise self._error(failure, retry + 1, chunks) from exc
                time.sleep(self._delay(retry, failure))

        async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
            parent = super()._astream
            self._bind_loop()
            errors = _transport_errors()
            limit = self._limit()
            for retry in range(self.retries + 1):
                chunks = 0
                try:
                    async with limit.aslot() if limit else contextlib.nullcontext():
                        async for chunk in parent(messages, stop=stop, run_manager=run_manager, **kwargs):
                            chunks += 1
                            yield chunk
                    return
                except errors as exc:
                    failure = self._failure(exc)
                    if chunks or self._give_up(failure, retry):
                        raise self._error(failure, retry + 1, chunks) from exc
                await asyncio.sleep(self._delay(retry, failure))

    return CompatibleChatOpenAI
