"""The OpenAI-compatible backend end to end, against a real chat-completions server on loopback.

The server below is a real HTTP/1.1 server (threads, chunked SSE streaming); only its replies are
scripted. It can answer with an error status, sleep, stall a stream, or die with requests in flight.
Backoffs are shortened through the model-string options so the tests stay fast.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import psyagents
from psyagents.default_plugins.openai_models import InFlightLimit, ModelServerError, parse_retry_after
from psyagents.errors import PsyagentsError
from psyagents.models import get_chat_model
from psyagents.tracing import TraceStore

REPLY = "How does that feel for you?"
FAST = "max_retries=2&backoff=0.01&timeout=5"  # quick retries; the timeout only bounds a hang


class FakeServer:
    """A chat-completions server on 127.0.0.1 whose n-th request gets ``actions[n]`` (the last one repeats).

    Actions: ``("reply",)``, ``("status", code, headers)``, ``("sleep", seconds)`` then reply,
    ``("hang",)`` (never answers), ``("stall", n)`` (streams n chunks, then nothing; a non-streamed
    request just hangs).
    """

    def __init__(self, actions=(("reply",),)):
        self.actions = list(actions)
        self.requests: list[tuple[float, dict]] = []
        self.active = 0
        self.max_active = 0
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with server._lock:
                    server._conns.add(self.connection)

            def finish(self):
                with server._lock:
                    server._conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    action = server.actions[min(len(server.requests), len(server.actions) - 1)]
                    server.requests.append((time.monotonic(), body))
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                try:
                    server.handle(self, body, action)
                finally:
                    with server._lock:
                        server.active -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.httpd.handle_error = lambda request, address: None  # a killed connection is expected here
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def handle(self, h: BaseHTTPRequestHandler, body: dict, action: tuple) -> None:
        kind = action[0]
        if kind == "status":
            data = json.dumps({"error": {"message": f"scripted {action[1]}", "type": "server_error"}}).encode()
            h.send_response(action[1])
            for key, value in (action[2] if len(action) > 2 else {}).items():
                h.send_header(key, value)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        if kind == "hang" or (kind == "stall" and not body.get("stream")):
            self.stopped.wait()
            return
        if kind == "sleep" and self.stopped.wait(action[1]):
            return
        words = REPLY.split(" ")
        usage = {"prompt_tokens": 11, "completion_tokens": len(words), "total_tokens": 11 + len(words)}
        if not body.get("stream"):
            message = {"role": "assistant", "content": REPLY}
            data = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                               "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": usage}).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def event(payload) -> None:
            data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
            h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            h.wfile.flush()

        for i, word in enumerate(words):
            if kind == "stall" and i == action[1]:
                self.stopped.wait()
                return
            event({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                   "choices": [{"index": 0, "delta": {"role": "assistant", "content": word if i == 0 else " " + word}, "finish_reason": None}]})
        event({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage})
        event("[DONE]")
        h.wfile.write(b"0\r\n\r\n")

    def wait_active(self, n: int, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while self.active < n:
            assert time.monotonic() < deadline, f"only {self.active} of {n} requests reached the server"
            time.sleep(0.01)

    def kill(self) -> None:
        """Die like a crashed process: stop listening and cut every open connection mid-request."""
        self.httpd.shutdown()
        self.httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self.stopped.set()


@contextmanager
def serving(*actions):
    server = FakeServer(actions or (("reply",),))
    try:
        yield server
    finally:
        server.kill()


def model(server: FakeServer, options: str = FAST, name: str = "counselor"):
    return get_chat_model(f"openai:{name}?base_url={server.url}&{options}")


def test_non_streaming_and_streaming_sync_and_async():
    with serving() as server:
        m = model(server)
        reply = m.invoke("hi")
        assert reply.content == REPLY and reply.usage_metadata["output_tokens"] == 6
        chunks = list(m.stream("hi"))
        assert len(chunks) > 3 and "".join(c.content for c in chunks) == REPLY

        async def both():
            return await m.ainvoke("hi"), [c async for c in m.astream("hi")]

        areply, achunks = asyncio.run(both())
        assert areply.content == REPLY and "".join(c.content for c in achunks) == REPLY
        assert [bool(body.get("stream")) for _, body in server.requests] == [False, True, False, True]


def test_one_model_across_event_loops():
    """Each asyncio.run() is a new event loop; pooled keep-alive connections of a closed loop must not be reused."""
    with serving() as server:
        m = model(server)
        for _ in range(3):
            assert asyncio.run(m.ainvoke("hi")).content == REPLY
        assert len(server.requests) == 3


def test_transport_options_are_checked():
    for bad, message in [("timeout=0", "option 'timeout': bad value '0', expected a number of seconds > 0"),
                         ("max_retries=-1", "option 'max_retries': bad value '-1'"),
                         ("backoff=soon", "option 'backoff': bad value 'soon'"),
                         ("max_in_flight=x", "option 'max_in_flight'")]:
        with pytest.raises(PsyagentsError, match=message):
            get_chat_model(f"openai:m?base_url=http://127.0.0.1:9/v1&{bad}")


def test_timeout_gives_a_clear_error_and_no_hang():
    with serving(("sleep", 30)) as server:
        m = model(server, "timeout=0.3&max_retries=1&backoff=0.01")
        start = time.monotonic()
        with pytest.raises(ModelServerError, match=r"at http://127\.0\.0\.1:\d+/v1: no response within the 0\.3 s timeout, after 2 attempts"):
            m.invoke("hi")
        assert time.monotonic() - start < 3
        assert len(server.requests) == 2


def test_a_stalled_stream_times_out_without_a_retry():
    with serving(("stall", 2)) as server:
        m = model(server, "timeout=0.3&max_retries=3&backoff=0.01")
        seen = []
        with pytest.raises(ModelServerError, match="the stream broke after 2 chunks: no response within the 0.3 s timeout"):
            for chunk in m.stream("hi"):
                seen.append(chunk.content)
        assert "".join(seen) == "How does"
        assert len(server.requests) == 1  # its tokens were already out: retrying would repeat them


def test_429_is_retried_after_the_servers_retry_after():
    with serving(("status", 429, {"Retry-After": "1"}), ("reply",)) as server:
        assert model(server).invoke("hi").content == REPLY
        (first, _), (second, _) = server.requests
        assert len(server.requests) == 2
        assert second - first >= 0.95  # Retry-After: 1 beat backoff=0.01


def test_5xx_then_success_for_calls_and_streams():
    with serving(("status", 500), ("status", 502), ("status", 503), ("reply",)) as server:
        m = model(server, "max_retries=3&backoff=0.01&timeout=5")
        assert m.invoke("hi").content == REPLY
        assert len(server.requests) == 4
    with serving(("status", 503), ("reply",)) as server:
        assert "".join(c.content for c in model(server).stream("hi")) == REPLY
        assert len(server.requests) == 2


def test_client_errors_are_not_retried():
    with serving(("status", 404)) as server:
        with pytest.raises(ModelServerError, match=r"HTTP 404 Not Found \(scripted 404\)$"):
            model(server).invoke("hi")
        assert len(server.requests) == 1


def test_5xx_forever_fails_the_session_with_that_error(db):
    with serving(("status", 503)) as server:
        counselor = f"openai:counselor?base_url={server.url}&max_retries=2&backoff=0.01"
        with pytest.raises(ModelServerError) as raised:
            psyagents.run_session("emma-breakup", "person-centered", counselor, "scripted:client", max_turns=2, db=db, session_id="s503")
        assert len(server.requests) == 3
    message = str(raised.value)
    assert server.url in message and "HTTP 503 Service Unavailable" in message and "after 3 attempts (max_retries=2)" in message
    assert raised.value.status == 503 and raised.value.attempts == 3
    store = TraceStore(db, create=False)
    try:
        row = store.session("s503")
        assert row["status"] == "failed"
        assert row["error"] == f"ModelServerError: {message}"
    finally:
        store.close()


def test_max_in_flight_limits_concurrent_requests():
    with serving(("sleep", 0.2)) as server:
        m = model(server, f"{FAST}&max_in_flight=2")

        async def batch(chat, n):
            return await asyncio.gather(*(chat.ainvoke("hi") for _ in range(n)))

        start = time.monotonic()
        assert [r.content for r in asyncio.run(batch(m, 6))] == [REPLY] * 6
        assert server.max_active == 2 and time.monotonic() - start >= 0.55
        # Threads share the same limit, and so does another model naming the same server and limit.
        server.max_active = 0
        other = model(server, f"{FAST}&max_in_flight=2", name="client")
        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda i: (m if i % 2 else other).invoke("hi").content, range(4)))
        assert replies == [REPLY] * 4 and server.max_active == 2
    with serving(("sleep", 0.2)) as server:  # without a limit all six are in flight together
        asyncio.run(batch(model(server), 6))
        assert server.max_active == 6


def test_in_flight_limit_survives_cancelled_waiters():
    limit = InFlightLimit(1)

    async def scenario():
        await limit.aacquire()
        waiter = asyncio.create_task(limit.aacquire())
        await asyncio.sleep(0.01)
        waiter.cancel()
        limit.release()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await asyncio.wait_for(limit.aacquire(), 1)  # the slot was not lost with the cancelled waiter
        limit.release()

    asyncio.run(scenario())
    assert limit.in_flight == 0


def test_parse_retry_after():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": email.utils.formatdate(1_000_030, usegmt=True)}, now=1_000_000) == 30
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None


def test_server_dying_mid_batch(db):
    """Two sessions finish; four more are in flight (two waiting for headers, two mid-stream) when the server dies.

    The sessions have a listener (as on the command line), so the counsellor's replies are streamed;
    without one the requests are plain (non-streaming) ones.
    """
    with serving(("reply",)) as server:
        counselor = f"openai:counselor?base_url={server.url}&max_retries=2&backoff=0.05&timeout=20"

        def session(sid):
            try:
                return psyagents.run_session("emma-breakup", "person-centered", counselor, "scripted:client",
                                             max_turns=2, db=db, session_id=sid, on_event=lambda kind, data: None)
            except Exception as exc:
                return exc

        TraceStore(db).close()  # created up front: concurrent first opens race on the schema migration
        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(session, ["done-0", "done-1"]))
        assert [s.status for s in done] == ["completed", "completed"]
        before = {s.id: psyagents.load_session(s.id, db).turns for s in done}
        assert all(len(turns) >= 3 for turns in before.values())

        seen = len(server.requests)
        server.actions = [("reply",)] * seen + [("hang",), ("stall", 1), ("hang",), ("stall", 1)]
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(session, f"cut-{i}") for i in range(4)]
            server.wait_active(4)
            killed = time.monotonic()
            server.kill()
            results = [f.result(timeout=15) for f in futures]
        took = time.monotonic() - killed

    assert took < 5, f"in-flight calls took {took:.1f} s to fail after the server died (timeout=20)"
    assert all(isinstance(r, ModelServerError) for r in results), results
    messages = sorted(str(r) for r in results)
    assert sum("the stream broke after 1 chunk" in m for m in messages) == 2
    assert sum("connection failed" in m and "after 3 attempts" in m for m in messages) == 2
    assert all(server.url in m for m in messages)
    store = TraceStore(db, create=False)
    try:
        rows = {r["id"]: r for r in store.sessions()}
        assert {rows[f"cut-{i}"]["status"] for i in range(4)} == {"failed"}
        assert all(server.url in rows[f"cut-{i}"]["error"] for i in range(4))
        for sid, turns in before.items():
            assert rows[sid]["status"] == "completed" and store.turns(sid) == turns
    finally:
        store.close()


def test_server_dying_under_concurrent_async_calls():
    with serving(("stall", 1), ("hang",), ("stall", 1), ("hang",)) as server:
        m = model(server, "max_retries=1&backoff=0.05&timeout=20")

        async def call(i):
            try:
                if i % 2:
                    return await m.ainvoke("hi")
                return "".join([c.content async for c in m.astream("hi")])
            except ModelServerError as exc:
                return exc

        async def batch():
            tasks = [asyncio.create_task(call(i)) for i in range(4)]
            while server.active < 4:
                await asyncio.sleep(0.01)
            killed = time.monotonic()
            await asyncio.to_thread(server.kill)
            results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
            return results, time.monotonic() - killed

        results, took = asyncio.run(batch())
    assert took < 5
    assert all(isinstance(r, ModelServerError) and server.url in str(r) for r in results), results


def test_an_interrupted_wait_for_a_slot_gives_nothing_away():
    """Ctrl-C while waiting for a max_in_flight slot must not leave a dead waiter holding the slot.

    The KeyboardInterrupt is raised in the waiting thread with PyThreadState_SetAsyncExc; it lands as
    the thread wakes, i.e. just after release() handed it the slot - the case that used to lose it."""
    import ctypes
    import threading
    import time

    from psyagents.default_plugins.openai_models import InFlightLimit

    limit = InFlightLimit(1)
    limit.acquire()
    errors = []

    def waiter():
        try:
            limit.acquire()
        except KeyboardInterrupt:
            errors.append("interrupted")

    t = threading.Thread(target=waiter)
    t.start()
    for _ in range(400):
        if limit._waiters:
            break
        time.sleep(0.005)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(t.ident), ctypes.py_object(KeyboardInterrupt))
    limit.release()
    t.join(5)
    assert not t.is_alive() and errors == ["interrupted"]
    got = threading.Event()
    threading.Thread(target=lambda: (limit.acquire(), got.set()), daemon=True).start()
    assert got.wait(2), "the slot was lost to the interrupted waiter"
    assert limit.in_flight == 1
