"""Resolve ``provider:name`` model strings to LangChain chat models through the chat-model hook.

A model string is ``PROVIDER:NAME`` optionally followed by ``?key=value&...``
options passed to the provider's factory, e.g.
``openai:qwen2.5-7b-instruct?base_url=http://127.0.0.1:8000/v1&temperature=0.7``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ChatMessage, HumanMessage, SystemMessage

from .errors import PsyagentsError, unknown
from .plugins import collect

ModelFactory = Callable[[str, dict[str, str]], BaseChatModel]


class ModelSpecError(PsyagentsError, ValueError):
    """A model string that cannot be parsed or resolved."""


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    name: str
    options: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    def __str__(self) -> str:
        return self.raw or f"{self.provider}:{self.name}"


def parse_model_spec(spec: str) -> ModelSpec:
    """Split ``provider:name?opts`` into its parts; raises ModelSpecError naming the string."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ModelSpecError(f"bad model string {spec!r}: expected PROVIDER:NAME, e.g. local:smollm2 or openai:gpt-4o-mini")
    provider, _, rest = spec.partition(":")
    name, _, query = rest.partition("?")
    provider = provider.strip()
    if not provider or not name.strip():
        raise ModelSpecError(f"bad model string {spec!r}: both PROVIDER and NAME are needed")
    try:
        options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise ModelSpecError(f"bad model string {spec!r}: options after '?' must be key=value pairs joined by '&'") from None
    return ModelSpec(provider=provider, name=name.strip(), options=options, raw=spec)


def providers() -> dict[str, tuple[ModelFactory, dict[str, Any]]]:
    """Registered providers: ``{prefix: (factory, {"description": ...})}``."""
    return collect("register_chat_models")  # type: ignore[return-value]


def get_chat_model(spec: str) -> BaseChatModel:
    """Build the chat model a model string names."""
    parsed = parse_model_spec(spec)
    available = providers()
    if parsed.provider not in available:
        raise unknown("model provider", parsed.provider, available) from None
    factory, _ = available[parsed.provider]
    try:
        return factory(parsed.name, dict(parsed.options))
    except PsyagentsError:
        raise
    except (TypeError, ValueError) as exc:
        raise ModelSpecError(f"model {spec!r}: {exc}") from None


def to_chat_messages(messages: list[BaseMessage], backend: str = "this model") -> list[dict[str, str]]:
    """LangChain messages as chat-template dicts for backends that apply a chat template themselves.

    Consecutive same-role messages are merged, because many chat templates reject or mangle
    repeated roles; anything but system, human and AI messages is an error naming ``backend``.
    """
    out: list[dict[str, str]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            role = "system"
        elif isinstance(message, HumanMessage):
            role = "user"
        elif isinstance(message, AIMessage):
            role = "assistant"
        elif isinstance(message, ChatMessage) and message.role in ("system", "user", "assistant"):
            role = message.role
        else:
            raise PsyagentsError(f"{backend} cannot take {message.type!r} messages, only system, human and ai ones")
        if out and out[-1]["role"] == role:
            out[-1]["content"] += "\n\n" + message.text
        else:
            out.append({"role": role, "content": message.text})
    return out
