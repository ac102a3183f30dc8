"""Model strings, the scripted provider, and the OpenAI-compatible provider against a real loopback server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

import psyagents
from psyagents.errors import DataFileError, PsyagentsError
from psyagents.models import ModelSpecError, get_chat_model, parse_model_spec


def test_parse_model_spec():
    spec = parse_model_spec("openai:qwen2.5-7b?base_url=http://127.0.0.1:8000/v1&temperature=0.3")
    assert (spec.provider, spec.name) == ("openai", "qwen2.5-7b")
    assert spec.options == {"base_url": "http://127.0.0.1:8000/v1", "temperature": "0.3"}
    assert parse_model_spec("local:/models/my model").name == "/models/my model"


@pytest.mark.parametrize("bad", ["smollm2", ":x", "local:", "local:x?novalue"])
def test_bad_model_strings(bad):
    with pytest.raises(ModelSpecError, match="bad model string"):
        get_chat_model(bad)


def test_scripted_replies_follow_the_conversation():
    model = get_chat_model("scripted:client")
    first = model.invoke([SystemMessage("s"), HumanMessage("hello")]).content
    second = model.invoke([SystemMessage("s"), HumanMessage("hello"), AIMessage(first), HumanMessage("and?")]).content
    assert first != second
    assert model.invoke([HumanMessage("hello")]).content == first  # no hidden state: same input, same reply


def test_scripted_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(["one", "two"]), encoding="utf-8")
    model = get_chat_model(f"scripted:{path}")
    assert model.invoke([HumanMessage("x")]).content == "one"
    assert model.invoke([HumanMessage("x"), AIMessage("one"), AIMessage("two"), HumanMessage("y")]).content == "two"
    with pytest.raises(PsyagentsError, match="script file '.*missing.yaml' does not exist"):
        get_chat_model(f"scripted:{tmp_path / 'missing.yaml'}")
    (tmp_path / "bad.yaml").write_text("replies: 3", encoding="utf-8")
    with pytest.raises(DataFileError, match="bad.yaml: field 'replies'"):
        get_chat_model(f"scripted:{tmp_path / 'bad.yaml'}")
    with pytest.raises(PsyagentsError, match="no option 'temperature'"):
        get_chat_model("scripted:client?temperature=1")


def test_openai_options_are_checked():
    with pytest.raises(PsyagentsError, match="no option 'temprature'"):
        get_chat_model("openai:m?base_url=http://127.0.0.1:9/v1&temprature=1")
    with pytest.raises(PsyagentsError, match="option 'max_tokens': bad value 'many'"):
        get_chat_model("openai:m?base_url=http://127.0.0.1:9/v1&max_tokens=many")


class ChatServer(BaseHTTPRequestHandler):
    """A minimal chat-completions server (non-streaming and SSE streaming) with scripted replies."""

    replies = {"counselor": "How does that feel for you?", "client": "Pretty heavy, honestly."}
    requests: list[dict] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatServer.requests.append(body)
        text = self.replies[body["model"]]
        usage = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i, word in enumerate(text.split(" ")):
                piece = word if i == 0 else " " + word
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            final = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                     "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
            self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
            return
        payload = {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}], "usage": usage}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ChatServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    ChatServer.requests = []
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()


def test_session_against_an_openai_compatible_server(server, db):
    s = psyagents.run_session(
        "emma-breakup", "person-centered", f"openai:counselor?base_url={server}", f"openai:client?base_url={server}",
        max_turns=2, db=db, seed=5,
    )
    assert [t.text for t in s.turns[1:]] == ["How does that feel for you?", "Pretty heavy, honestly.", "How does that feel for you?"]
    counselor = s.turns[1]
    assert counselor.prompt_tokens == 11 and counselor.completion_tokens == 5
    sent = ChatServer.requests[0]
    assert sent["messages"][0]["role"] == "system" and "person-centred counsellor" in sent["messages"][0]["content"]
    assert any(r.get("seed") is not None for r in ChatServer.requests)
