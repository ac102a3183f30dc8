"""Iterative DPO (PsychoCounsel's DPO-Iter): sample, score, pair best with worst, train, repeat.

Each round samples ``samples`` replies per client statement from the current policy (the local
model backend, sampled, one seed per sample), scores them with a reward model or a judge, pairs
the best reply with the worst (skipping prompts whose best and worst are tied or closer than
``min_gap``), trains one DPO round from the current policy and continues from the result.
Everything a round did is kept in ``OUT/round-K/``: ``samples.jsonl`` (every reply, seed and
score), ``train.jsonl`` (the pairs, in the ``export preference`` format), ``metrics.json`` and
the trained policy in ``model/``.
"""

from __future__ import annotations

import gc
import json
import statistics
from pathlib import Path
from typing import Any

from psyagents.errors import PsyagentsError

from .training import Echo, _now, _stderr, read_manifest, resolve_base, train, write_json, write_jsonl

MANIFEST = "psyagents-dpo-iter.json"
Messages = list[dict[str, str]]


# --- prompts --------------------------------------------------------------------------------


def load_prompts(source: str | Path, *, limit: int | None = None) -> list[Messages]:
    """Client statements to answer, as message lists ending on the client (``user``).

    ``source``: an export folder (its ``train.jsonl``) or a JSON-lines file - preference/KTO rows
    (``prompt``), SFT rows (``messages``, one prompt per counsellor turn) or ShareGPT rows - or a
    trace database (``.db``), one prompt per counsellor turn of its completed sessions.
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise PsyagentsError(f"--prompts '{source}' does not exist")
    if path.is_dir():
        path = path / "train.jsonl"
        if not path.is_file():
            raise PsyagentsError(f"--prompts '{source}': no train.jsonl in the folder")
    prompts = _prompts_from_db(path) if _is_sqlite(path) else _prompts_from_jsonl(path)
    seen: set[str] = set()
    unique = []
    for prompt in prompts:
        key = json.dumps(prompt, ensure_ascii=False, sort_keys=True)
        if key not in seen and prompt and prompt[-1]["role"] == "user":
            seen.add(key)
            unique.append(prompt)
    if not unique:
        raise PsyagentsError(f"--prompts '{source}': no client statement to answer")
    return unique[:limit] if limit else unique


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"


def _prefixes(messages: Messages) -> list[Messages]:
    """Every context that ends right before a counsellor (assistant) message."""
    return [messages[:i] for i, m in enumerate(messages) if m["role"] == "assistant" and i > 0 and messages[i - 1]["role"] == "user"]


def _prompts_from_jsonl(path: Path) -> list[Messages]:
    from .training import _sharegpt_to_messages

    out: list[Messages] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PsyagentsError(f"--prompts '{path}': line {n} is not JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise PsyagentsError(f"--prompts '{path}': line {n} is not a JSON object")
            if isinstance(row.get("prompt"), list):
                out.append([{"role": m["role"], "content": m["content"]} for m in row["prompt"]])
            elif isinstance(row.get("prompt"), str):
                out.append([{"role": "user", "content": row["prompt"]}])
            elif isinstance(row.get("messages"), list):
                out.extend(_prefixes(row["messages"]))
            elif isinstance(row.get("conversations"), list):
                out.extend(_prefixes(_sharegpt_to_messages(row)["messages"]))
            else:
                raise PsyagentsError(f"--prompts '{path}': line {n} has no prompt, messages or conversations")
    return out


def _prompts_from_db(path: Path) -> list[Messages]:
    from psyagents.export import dialogue, system_prompt
    from psyagents.tracing import TraceStore

    store = TraceStore(path, create=False)
    try:
        out: list[Messages] = []
        for row in store.db.query("select id, style, config from sessions where status = 'completed' order by rowid"):
            config = json.loads(row["config"] or "{}")
            system = config["system_prompt"] if "system_prompt" in config else system_prompt(row["style"])
            head = [{"role": "system", "content": system}] if system else []
            out.extend(_prefixes(head + dialogue(store.turns(row["id"]))))
        return out
    finally:
        store.close()


# --- scorers ----------------------------------------------------------------------------------


class RewardScorer:
    """Scores replies with a reward model folder."""

    def __init__(self, path: str | Path):
        from .scoring import RewardModel

        self.name = f"reward-model:{path}"
        self.model = RewardModel(path)

    def score(self, prompt: Messages, replies: list[str]) -> list[dict[str, Any]]:
        scores = self.model.score([[*prompt, {"role": "assistant", "content": r}] for r in replies])
        return [{"score": s} for s in scores]

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]


class JudgeScorer:
    """Scores replies with a judge: the sum of its verdicts' scores over the principles (as PsychoCounsel's total)."""

    def __init__(self, spec: str, principles: str | None = None):
        from psyagents.judging import get_judge

        self.judge = get_judge(spec)
        self.name = self.judge.name or spec
        self.principles = _principles(principles or getattr(self.judge, "default_principles", None) or "psychocounsel")

    def score(self, prompt: Messages, replies: list[str]) -> list[dict[str, Any]]:
        from psyagents.judging import comparable_scores

        history = [("counselor" if m["role"] == "assistant" else "client", m["content"]) for m in prompt if m["role"] != "system"]
        verdicts = [self.judge.rate_reply(history, reply, self.principles, context={}) for reply in replies]
        # Compared on the principles every sample was scored on, so a failed verdict costs no sample points.
        scores = comparable_scores(verdicts)
        return [{"score": score, "ratings": {v.principle: v.score for v in vs}} for score, vs in zip(scores, verdicts)]

    def close(self) -> None:
        pass


def _principles(spec: str) -> list:
    """Principles as every ``--principles`` option takes them: sets, ids, files or ``all``."""
    from psyagents.judging import resolve_principles

    return resolve_principles(spec)


# --- sampling ---------------------------------------------------------------------------------


def sample_replies(policy: Path, prompts: list[Messages], *, samples: int, seed: int, temperature: float, top_p: float,
                   max_new_tokens: int, echo: Echo) -> list[list[dict[str, Any]]]:
    """``samples`` sampled replies per prompt from the policy folder; sample j of prompt i uses seed ``seed + i*samples + j``."""
    from psyagents.default_plugins.local_models import GenerationRequest, GenerationSettings, LocalModel

    backend = LocalModel.load(policy, "bfloat16")
    try:
        out = []
        for i, prompt in enumerate(prompts):
            ids = backend.prompt_ids(prompt)
            requests = [
                GenerationRequest(prompt_ids=ids, settings=GenerationSettings(
                    temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed + i * samples + j))
                for j in range(samples)
            ]
            results = backend.generate(requests)
            out.append([{"text": r.text.strip(), "seed": q.settings.seed, "finish_reason": r.finish_reason}
                        for q, r in zip(requests, results)])
            echo(f"  sampled {i + 1}/{len(prompts)} prompts")
        return out
    finally:
        del backend
        gc.collect()


def pair(prompt: Messages, scored: list[dict[str, Any]], min_gap: float) -> tuple[dict | None, str | None]:
    """The best reply against the worst, or why there is no pair (``too_few``, ``tie``)."""
    usable, seen = [], set()
    for s in scored:
        if s["text"] and s.get("score") is not None and s["text"] not in seen:
            seen.add(s["text"])
            usable.append(s)
    if len(usable) < 2:
        return None, "too_few"
    best = max(usable, key=lambda s: s["score"])  # max/min keep the first of equals: deterministic
    worst = min(usable, key=lambda s: s["score"])
    gap = best["score"] - worst["score"]
    if gap <= 0 or gap < min_gap:
        return None, "tie"
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": best["text"]}],
        "rejected": [{"role": "assistant", "content": worst["text"]}],
        "chosen_score": best["score"],
        "rejected_score": worst["score"],
        "score_gap": gap,
        "chosen_seed": best["seed"],
        "rejected_seed": worst["seed"],
    }, None


# --- the loop ---------------------------------------------------------------------------------


def dpo_iter(
    prompts: str | Path,
    base: str,
    out: str | Path,
    *,
    reward_model: str | Path | None = None,
    judge: str | None = None,
    principles: str | None = None,
    rounds: int = 2,
    samples: int = 4,
    min_gap: float = 0.0,
    max_prompts: int | None = None,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 96,
    seed: int = 0,
    lora: bool | None = None,
    config: str | Path | None = None,
    max_steps: int | None = None,
    settings: dict[str, Any] | None = None,
    resume: bool = False,
    callbacks: tuple = (),
    echo: Echo = _stderr,
) -> dict:
    """Run ``rounds`` rounds of sample → score → pair → DPO from ``base``; returns the run's manifest.

    Each round's policy is saved whole (LoRA is merged) so the next round's DPO reference is the
    policy the round started from. With ``resume`` finished rounds are kept and an unfinished
    round's training continues from its last checkpoint.
    """
    if (reward_model is None) == (judge is None):
        raise PsyagentsError("give exactly one of --reward-model PATH and --judge SPEC")
    for name, value, low in (("--rounds", rounds, 1), ("--samples", samples, 2)):
        if not isinstance(value, int) or value < low:
            raise PsyagentsError(f"{name} must be a whole number of at least {low}, not {value!r}")
    if min_gap < 0:
        raise PsyagentsError(f"--min-gap must be at least 0, not {min_gap!r}")
    out = Path(out).expanduser().resolve()
    if (out / MANIFEST).is_file() and not resume:
        raise PsyagentsError(f"--out '{out}' already holds a dpo-iter run: add --resume to continue it, or choose another --out")
    prompt_list = load_prompts(prompts, limit=max_prompts)
    policy = resolve_base(base).folder
    # Built before anything is sampled, so a bad judge or reward model fails at once.
    scorer: Any = RewardScorer(reward_model) if reward_model is not None else JudgeScorer(judge, principles)
    manifest: dict[str, Any] = {
        "task": "dpo-iter", "status": "running", "base": base, "prompts": str(prompts), "prompt_count": len(prompt_list),
        "scorer": scorer.name, "rounds_planned": rounds, "samples": samples, "min_gap": min_gap,
        "sampling": {"temperature": temperature, "top_p": top_p, "max_new_tokens": max_new_tokens, "seed": seed},
        "config": str(config) if config else None, "rounds": [], "created_at": _now(),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / MANIFEST, manifest)
    try:
        for k in range(1, rounds + 1):
            folder = out / f"round-{k}"
            model_dir = folder / "model"
            if resume and (folder / "metrics.json").is_file() and _finished(model_dir):
                metrics = json.loads((folder / "metrics.json").read_text())
                echo(f"Round {k}/{rounds}: already done ({metrics['pairs']} pairs)")
            else:
                metrics = _round(k, rounds, folder, policy, prompt_list, scorer, samples=samples, min_gap=min_gap,
                                 seed=seed + (k - 1) * len(prompt_list) * samples, temperature=temperature, top_p=top_p,
                                 max_new_tokens=max_new_tokens, train_options=dict(
                                     lora=lora, config=config, max_steps=max_steps, settings=settings, callbacks=callbacks),
                                 resume=resume, echo=echo)
            manifest["rounds"] = [*manifest["rounds"], metrics]
            write_json(out / MANIFEST, manifest)
            policy = model_dir
    except BaseException as exc:
        manifest.update(status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", finished_at=_now())
        if not isinstance(exc, KeyboardInterrupt):
            manifest["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        write_json(out / MANIFEST, manifest)
        echo(f"dpo-iter stopped in round {len(manifest['rounds']) + 1}; finished rounds are kept. "
             "Continue with the same command and --resume.")
        raise
    finally:
        scorer.close()
    manifest.update(status="completed", finished_at=_now(), policy=str(policy))
    write_json(out / MANIFEST, manifest)
    echo(f"Done: {rounds} round{'s' if rounds != 1 else ''}; the last policy is local:{policy}")
    return manifest


def _finished(model_dir: Path) -> bool:
    try:
        return read_manifest(model_dir).get("status") == "completed"
    except PsyagentsError:
        return False


def _round(k: int, rounds: int, folder: Path, policy: Path, prompts: list[Messages], scorer: Any, *, samples: int,
           min_gap: float, seed: int, temperature: float, top_p: float, max_new_tokens: int, train_options: dict,
           resume: bool, echo: Echo) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    echo(f"Round {k}/{rounds}: sampling {samples} replies for each of {len(prompts)} prompts from {policy}")
    drawn = sample_replies(policy, prompts, samples=samples, seed=seed, temperature=temperature, top_p=top_p,
                           max_new_tokens=max_new_tokens, echo=echo)
    echo(f"Round {k}/{rounds}: scoring with {scorer.name}")
    rows, pairs, skipped = [], [], {"tie": 0, "too_few": 0}
    for i, (prompt, replies) in enumerate(zip(prompts, drawn)):
        scores = scorer.score(prompt, [r["text"] for r in replies])
        scored = [{**r, **s} for r, s in zip(replies, scores)]
        rows.append({"prompt_index": i, "prompt": prompt, "samples": scored})
        found, reason = pair(prompt, scored, min_gap)
        if found:
            pairs.append({"prompt_index": i, **found})
        else:
            skipped[reason] += 1
    write_jsonl(folder / "samples.jsonl", rows)
    write_jsonl(folder / "train.jsonl", pairs)
    values = [s["score"] for r in rows for s in r["samples"] if s.get("score") is not None]
    metrics: dict[str, Any] = {
        "round": k,
        "policy": str(policy),
        "prompts": len(prompts),
        "samples": sum(len(r["samples"]) for r in rows),
        "pairs": len(pairs),
        "skipped": skipped,
        "score": {
            "mean": statistics.fmean(values) if values else None,
            "chosen_mean": statistics.fmean(p["chosen_score"] for p in pairs) if pairs else None,
            "rejected_mean": statistics.fmean(p["rejected_score"] for p in pairs) if pairs else None,
        },
        "seeds": [seed, seed + len(prompts) * samples - 1],
    }
    if not pairs:
        write_json(folder / "metrics.json", {**metrics, "status": "no_pairs"})
        raise PsyagentsError(f"round {k}: no pairs (all {len(prompts)} prompts tied or had fewer than 2 scored replies); "
                             "draw more --samples, raise the temperature or lower --min-gap")
    echo(f"Round {k}/{rounds}: {len(pairs)} pairs ({skipped['tie']} ties, {skipped['too_few']} with too few replies); training DPO")
    model_dir = folder / "model"
    from transformers.trainer_utils import get_last_checkpoint

    can_resume = resume and (model_dir / "checkpoints").is_dir() and get_last_checkpoint(str(model_dir / "checkpoints")) is not None
    trained = train("dpo", folder, f"local:{policy}", model_dir, merge=True, resume=can_resume, echo=echo, **train_options)
    metrics["train"] = {key: trained.get(key) for key in ("global_step", "metrics", "saved", "settings", "lora")}
    metrics["model"] = str(model_dir)
    metrics["status"] = "completed"
    write_json(folder / "metrics.json", metrics)
    return metrics

