"""``scripted:`` chat models: deterministic canned replies for tests and demos, no ML dependencies.

``scripted:counselor`` and ``scripted:client`` are built in; ``scripted:FILE``
reads a YAML or JSON file holding a list of replies (or ``{replies: [...]}``).
The n-th reply to the other side is ``replies[n]``: the reply is chosen by
counting this speaker's earlier replies in the conversation it is given (its
``assistant`` messages after the first ``user`` message, so a persona's opening
line does not use up a scripted reply), not by a counter in the object; a
session resumed in a new process continues the script exactly where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import yaml
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from psyagents.errors import DataFileError, PsyagentsError
from psyagents.hookspecs import hookimpl

COUNSELOR_SCRIPT = [
    "Hello, I'm glad you came in today. What would you like to talk about?",
    "That sounds really hard. How long have you been feeling this way?",
    "It makes sense that you feel worn out, carrying all of that. What goes through your mind when it is at its worst?",
    "I notice you are very hard on yourself. What would you say to a friend in the same situation?",
    "Let's think about one small step you could try this week. What feels manageable?",
    "That sounds like a good plan. How confident do you feel, from one to ten?",
    "You have worked hard today. Shall we stop here and pick this up next time? Take care.",
]

CLIENT_SCRIPT = [
    "I've been feeling really overwhelmed lately and I don't know where to start.",
    "A few months, since things got busy at work. I can't switch off at night.",
    "That I'm always failing and everyone will find out I can't cope.",
    "I suppose I would tell them they are doing their best. It's different for me though.",
    "Maybe I could go for a short walk after work instead of checking emails.",
    "About a six. I think I can try it at least twice.",
    "Thank you, this helped. I think that's all for today. Goodbye.",
]

BUILTIN_SCRIPTS = {"counselor": COUNSELOR_SCRIPT, "counsellor": COUNSELOR_SCRIPT, "client": CLIENT_SCRIPT}


class ScriptedChatModel(BaseChatModel):
    """Replies from a fixed script: this speaker's n-th reply to the other side is ``replies[n]``.

    After the last reply the script repeats from the start when ``cycle`` is
    true; otherwise it keeps giving the last reply. Token counts are word counts.
    """

    replies: list[str]
    cycle: bool = False
    script_name: str = "scripted"

    @property
    def _llm_type(self) -> str:
        return "psyagents-scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"script": self.script_name, "replies": len(self.replies)}

    def _next_reply(self, messages: list[BaseMessage]) -> str:
        first_user = next((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), len(messages))
        spoken = sum(1 for m in messages[first_user:] if isinstance(m, AIMessage))
        if self.cycle:
            return self.replies[spoken % len(self.replies)]
        return self.replies[min(spoken, len(self.replies) - 1)]

    def _message(self, messages: list[BaseMessage], text: str) -> AIMessage:
        n_in = sum(len(str(m.content).split()) for m in messages)
        n_out = len(text.split())
        return AIMessage(
            content=text,
            usage_metadata={"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out},
            response_metadata={"model_name": self.script_name, "finish_reason": "stop"},
        )

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._message(messages, self._next_reply(messages)))])

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        # Nothing to wait for: answered in place (LangChain's default hands it to a thread),
        # unless a subclass made ``_generate`` do more (a test model that sleeps, say).
        if type(self)._generate is not ScriptedChatModel._generate:
            return await super()._agenerate(messages, stop, run_manager, **kwargs)
        return self._generate(messages, stop, None, **kwargs)

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[tuple[str, ChatGenerationChunk]]:
        """The reply word by word, then a last empty chunk with the usage; pairs of (token text, chunk)."""
        text = self._next_reply(messages)
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == len(words) - 1 else word + " "
            yield piece, ChatGenerationChunk(message=AIMessageChunk(content=piece))
        final = self._message(messages, text)
        yield "", ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=final.usage_metadata, response_metadata=final.response_metadata)
        )

    def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
        for piece, chunk in self._chunks(messages):
            if run_manager and piece:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk

    async def _astream(self, messages, stop=None, run_manager=None, **kwargs) -> AsyncIterator[ChatGenerationChunk]:
        if type(self)._stream is not ScriptedChatModel._stream:  # as in _agenerate
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                yield chunk
            return
        for piece, chunk in self._chunks(messages):
            if run_manager and piece:
                await run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


def load_script(path: Path) -> tuple[list[str], bool]:
    """Read a script file: a list of replies, or a mapping with ``replies`` and optional ``cycle``."""
    if not path.exists():
        raise PsyagentsError(f"script file '{path}' does not exist")
    if path.is_dir():
        raise DataFileError(f"{path}: is a directory, expected a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}: cannot parse: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise DataFileError(f"{path}: cannot parse: nested too deeply") from None
    except OSError as exc:  # permission denied, a device...
        raise DataFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    cycle = False
    if isinstance(data, dict):
        cycle = bool(data.get("cycle", False))
        data = data.get("replies")
    if not isinstance(data, list) or not data or not all(isinstance(r, str) for r in data):
        raise DataFileError(f"{path}: field 'replies': expected a non-empty list of strings")
    return data, cycle


def scripted_chat_model(name: str, options: dict[str, str]) -> ScriptedChatModel:
    cycle = options.pop("cycle", "false").lower() in ("1", "true", "yes")
    if options:
        raise PsyagentsError(f"scripted models take no option {', '.join(sorted(options))!r} (only 'cycle')")
    if name in BUILTIN_SCRIPTS:
        return ScriptedChatModel(replies=BUILTIN_SCRIPTS[name], cycle=cycle, script_name=f"scripted:{name}")
    replies, file_cycle = load_script(Path(name))
    return ScriptedChatModel(replies=replies, cycle=cycle or file_cycle, script_name=f"scripted:{name}")


@hookimpl(trylast=True)
def register_chat_models(register):
    register(
        "scripted",
        scripted_chat_model,
        description="Deterministic canned replies: scripted:counselor, scripted:client or scripted:FILE (YAML/JSON list)",
    )
