"""The optional safety layers: an LLM assessor (driven by scripted JSON answers) and a local classifier
(a tiny randomly initialised model built in the test, so nothing is downloaded)."""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from psyagents.errors import PsyagentsError
from psyagents.hookspecs import hookimpl
from psyagents.risk import RISK_LEVELS
from psyagents.safety import safety_checks, screen
from psyagents.safety_layers import ClassifierCheck, LLMRiskAssessor
from tests.conftest import write_script


def _assessor(tmp_path, answers):
    return LLMRiskAssessor(write_script(tmp_path / "answers.yaml", answers), retries=1)


def test_assessor_reads_json(tmp_path):
    a = _assessor(tmp_path, ['```json\n{"level": "high", "categories": ["suicide_plan", "made-up"], "rationale": "names a method"}\n```'])
    r = a.screen("I know how I would do it.")
    assert (r.level, r.categories, r.layer, r.evidence) == ("high", ["suicide_plan"], "llm-assessor", ["names a method"])


def test_assessor_retries_then_gives_up_without_raising(plugin, tmp_path):
    calls = []

    class Flaky(GenericFakeChatModel):
        def _generate(self, messages, *a, **k):
            calls.append(messages)
            return super()._generate(messages, *a, **k)

    from langchain_core.messages import AIMessage

    class P:
        @hookimpl
        def register_chat_models(self, register):
            register("flaky", lambda name, o: Flaky(messages=iter([AIMessage(x) for x in json.loads(name)])))

    plugin(P(), "flaky")
    ok = LLMRiskAssessor('flaky:["not json", "{\\"level\\": \\"moderate\\"}"]').screen("I want to die")
    assert ok.level == "moderate" and len(calls) == 2 and "could not be read" in calls[1][-1].content
    bad = LLMRiskAssessor('flaky:["nope", "{\\"level\\": \\"severe\\"}"]').screen("I want to die")
    assert bad.level == "none" and bad.evidence[0].startswith("(assessor output unreadable")
    dead = LLMRiskAssessor("flaky:[]").screen("hello")  # the fake raises when it runs out, like a dead server
    assert dead.level == "none" and dead.evidence[0].startswith("(assessor failed")


def test_the_highest_layer_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("PSYAGENTS_SAFETY_CLASSIFIER", "")  # only the rules and the assessor here
    script = write_script(tmp_path / "a.yaml", ['{"level": "high", "categories": ["suicide_preparation"]}'])
    monkeypatch.setenv("PSYAGENTS_SAFETY_ASSESSOR", script)
    checks = safety_checks()
    assert [c.name for c in checks] == ["lexicon", "llm-assessor"]
    r = screen("I gave my dog to my sister and wrote some letters.", checks=checks)
    assert r.level == "high" and r.layer == "llm-assessor"
    monkeypatch.delenv("PSYAGENTS_SAFETY_ASSESSOR")
    assert [c.name for c in safety_checks()] == ["lexicon"]


def _tiny_classifier(folder, labels):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "i", "want", "to", "die", "hello"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]")
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                        num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    BertForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)


def test_classifier_layer(tmp_path):
    _tiny_classifier(tmp_path / "clf", list(RISK_LEVELS))
    check = ClassifierCheck(tmp_path / "clf")
    r = check.screen("i want to die")
    assert r.level in RISK_LEVELS and r.layer == "classifier" and r.evidence[0].startswith(f"p({r.level})=")
    assert check.screen("\x00" * 10 + "x" * 100_000).level in RISK_LEVELS  # odd input never raises


def test_classifier_labels_must_be_levels(tmp_path):
    _tiny_classifier(tmp_path / "clf", ["safe", "unsafe"])
    with pytest.raises(PsyagentsError, match=r"labels \['safe', 'unsafe'\] are not risk levels"):
        ClassifierCheck(tmp_path / "clf")
    with pytest.raises(PsyagentsError, match="is not a model folder"):
        ClassifierCheck(tmp_path / "nothing")
