"""Score replies with a trained reward model (a sequence classifier with one output)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psyagents.errors import PsyagentsError

Messages = list[dict[str, str]]


class RewardModel:
    """A reward model folder (``psyagents train reward`` output, or any one-label sequence classifier)."""

    def __init__(self, path: str | Path, *, dtype: str = "float32", max_length: int = 1024):
        import torch
        import transformers

        self.path = Path(path).expanduser()
        if not (self.path / "config.json").is_file():
            raise PsyagentsError(f"reward model '{path}' is not a model folder (no config.json)")
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            self.model = transformers.AutoModelForSequenceClassification.from_pretrained(
                self.path, dtype=getattr(torch, dtype), local_files_only=True
            ).eval()
        except (OSError, ValueError, KeyError) as exc:
            raise PsyagentsError(f"cannot load reward model '{path}': {str(exc).strip().splitlines()[0]}") from None
        if self.model.config.num_labels != 1:
            raise PsyagentsError(f"'{path}' is a classifier with {self.model.config.num_labels} labels, not a reward model (1)")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.max_length = max_length
        # The reply being scored is at the end: long histories lose their start, never the reply.
        self.tokenizer.truncation_side = "left"

    def score(self, conversations: list[Messages], *, batch_size: int = 8) -> list[float]:
        """One scalar per conversation (prompt messages followed by the assistant's reply)."""
        import torch

        scores: list[float] = []
        for start in range(0, len(conversations), batch_size):
            texts = [self.tokenizer.apply_chat_template(c, tokenize=False) for c in conversations[start : start + batch_size]]
            batch: Any = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                                        max_length=self.max_length, add_special_tokens=False)
            with torch.no_grad():
                logits = self.model(**batch).logits
            scores.extend(float(x) for x in logits[:, 0])
        return scores

    def score_reply(self, prompt: Messages, reply: str) -> float:
        return self.score([[*prompt, {"role": "assistant", "content": reply}]])[0]
