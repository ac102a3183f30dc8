"""``openai:`` chat models through langchain-openai, for OpenAI and any OpenAI-compatible server.

The base URL comes from the ``base_url`` option, else ``PSYAGENTS_OPENAI_BASE_URL``,
else ``OPENAI_BASE_URL``; so ``openai:NAME?base_url=http://127.0.0.1:8000/v1``
reaches a local vLLM or llama.cpp server. Local servers need no key.
"""

from __future__ import annotations

import os

from psyagents.errors import PsyagentsError
from psyagents.hookspecs import hookimpl

_FLOAT = ("temperature", "top_p", "timeout", "frequency_penalty", "presence_penalty")
_INT = ("max_tokens", "max_retries", "seed")
_STR = ("base_url", "api_key", "organization")


def openai_chat_model(name: str, options: dict[str, str]):
    from langchain_openai import ChatOpenAI

    kwargs: dict = {}
    for key, value in options.items():
        try:
            if key in _FLOAT:
                kwargs[key] = float(value)
            elif key in _INT:
                kwargs[key] = int(value)
            elif key in _STR:
                kwargs[key] = value
            else:
                raise PsyagentsError(f"openai models take no option '{key}'; known: {', '.join(_FLOAT + _INT + _STR)}")
        except ValueError:
            raise PsyagentsError(f"openai model option '{key}': bad value {value!r}") from None
    base_url = kwargs.pop("base_url", None) or os.environ.get("PSYAGENTS_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    api_key = kwargs.pop("api_key", None) or os.environ.get("OPENAI_API_KEY")
    if base_url:
        kwargs["base_url"] = base_url
        api_key = api_key or "not-needed"  # OpenAI-compatible local servers ignore the key
    if not api_key:
        raise PsyagentsError(f"openai:{name} needs OPENAI_API_KEY, or a base_url for an OpenAI-compatible server")
    kwargs.setdefault("max_retries", 2)
    return ChatOpenAI(model=name, api_key=api_key, stream_usage=True, **kwargs)


@hookimpl(trylast=True)
def register_chat_models(register):
    register(
        "openai",
        openai_chat_model,
        description="OpenAI or any OpenAI-compatible server (vLLM, llama.cpp): openai:NAME?base_url=URL",
    )
