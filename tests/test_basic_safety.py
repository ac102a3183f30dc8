"""The basic rules-and-lexicon safety screen (psyagents.default_plugins.basic_safety)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from psyagents.default_plugins import basic_safety
from psyagents.default_plugins.basic_safety import CATEGORIES, DEFAULT_RULES, LexiconCheck, Rule, _Finder
from psyagents.risk import RISK_LEVELS, RiskAssessment, highest, level_index

PSYGUARD = Path(__file__).parents[2] / "shared/data/psyguard-valid.jsonl"


@pytest.fixture(scope="module")
def check() -> LexiconCheck:
    return LexiconCheck()


def screen(check: LexiconCheck, text: str) -> RiskAssessment:
    return check.screen(text)


# (text, level, category that must be among the categories)
POSITIVES = [
    # imminent: intent with a timeframe or means at hand, an attempt in progress, a farewell
    ("I want to kill myself tonight", "imminent", "active_suicidal_ideation"),
    ("The pills are in front of me. I want to die.", "imminent", "active_suicidal_ideation"),
    ("I can't do this anymore. This is goodbye.", "imminent", "suicide_preparation"),
    ("I want to die. This is goodbye.", "imminent", "active_suicidal_ideation"),
    ("I've just taken the whole bottle of pills", "imminent", "suicide_attempt"),
    ("I'm standing on the bridge and I'm going to jump", "imminent", "suicide_plan"),
    ("我今晚就去死", "imminent", "active_suicidal_ideation"),
    ("药已经准备好了，我想死", "imminent", "active_suicidal_ideation"),
    ("我已经准备好了，今晚就结束自己的生命", "imminent", "active_suicidal_ideation"),
    ("我已经吃了一整瓶安眠药", "imminent", "suicide_attempt"),
    ("我现在准备去自杀了 再见了这个世界", "imminent", "suicide_preparation"),
    ("藥就在我面前，我不想活了", "imminent", "active_suicidal_ideation"),
    # high: plan, preparation, recent attempt, intent, self-harm intent, harming others
    ("I have a plan to kill myself", "high", "suicide_plan"),
    ("How many sleeping pills would it take to die?", "high", "suicide_plan"),
    ("What's the most painless way to kill myself?", "high", "suicide_plan"),
    ("I've been stockpiling my pills", "high", "suicide_preparation"),
    ("I wrote a suicide note", "high", "suicide_preparation"),
    ("I tried to kill myself last week", "high", "suicide_attempt"),
    ("I attempted suicide last month", "high", "suicide_attempt"),
    ("I'm going to kill myself", "high", "active_suicidal_ideation"),
    ("I want to cut myself", "high", "self_harm_intent"),
    ("I want to kill him", "high", "aggression_to_others"),
    ("I'm going to stab my boss", "high", "aggression_to_others"),
    ("我想跳楼", "high", "suicide_plan"),
    ("我想好了怎么死", "high", "suicide_plan"),
    ("吃多少片安眠药会死？", "high", "suicide_plan"),
    ("我写好了遗书", "high", "suicide_preparation"),
    ("我上个月自杀未遂", "high", "suicide_attempt"),
    ("我要自杀", "high", "active_suicidal_ideation"),
    ("我想自残", "high", "self_harm_intent"),
    ("我想伤害自己", "high", "self_harm_intent"),
    ("我想杀了他", "high", "aggression_to_others"),
    ("我想杀了我老公", "high", "aggression_to_others"),
    # moderate: active ideation, self-harm behaviour, wishing others dead, violence from others
    ("I want to kill myself", "moderate", "active_suicidal_ideation"),
    ("I want to die", "moderate", "active_suicidal_ideation"),
    ("I WANT TO DIE", "moderate", "active_suicidal_ideation"),
    ("I feel suicidal", "moderate", "active_suicidal_ideation"),
    ("I can't stop thinking about killing myself", "moderate", "active_suicidal_ideation"),
    ("I don't know why I want to die", "moderate", "active_suicidal_ideation"),
    ("my mom makes me want to die", "moderate", "active_suicidal_ideation"),
    ("I want to die 😭😭😭", "moderate", "active_suicidal_ideation"),
    ("Ｉ　ｗａｎｔ　ｔｏ　ｄｉｅ", "moderate", "active_suicidal_ideation"),
    ("I've been cutting myself again", "moderate", "self_harm_behavior"),
    ("I hurt myself last night", "moderate", "self_harm_behavior"),
    ("I hope he dies", "moderate", "aggression_to_others"),
    ("My dad hits me", "moderate", "aggression_from_others"),
    ("想死", "moderate", "active_suicidal_ideation"),
    ("想自杀", "moderate", "active_suicidal_ideation"),
    ("我好想去死", "moderate", "active_suicidal_ideation"),
    ("我想自殺", "moderate", "active_suicidal_ideation"),
    ("最近總是有自殺的念頭", "moderate", "active_suicidal_ideation"),
    ("我特别想死", "moderate", "active_suicidal_ideation"),
    ("我想死，这种感觉太特别了", "moderate", "active_suicidal_ideation"),
    ("我一直在自残", "moderate", "self_harm_behavior"),
    ("我经常割自己的手臂", "moderate", "self_harm_behavior"),
    ("我爸经常打我", "moderate", "aggression_from_others"),
    ("有没有不痛苦的死法", "high", "suicide_plan"),
    # low: passive ideation, talking or asking about suicide, someone else's risk
    ("I wish I could just disappear", "low", "passive_suicidal_ideation"),
    ("what's the point of living", "low", "passive_suicidal_ideation"),
    ("Everyone would be better off without me", "low", "passive_suicidal_ideation"),
    ("I'm so tired of living", "low", "passive_suicidal_ideation"),
    ("I don't really want to live anymore", "low", "passive_suicidal_ideation"),
    ("what is suicide?", "low", "asking_about_suicide"),
    ("my friend is suicidal", "low", "asking_about_suicide"),
    ("my friend in my class wants to die", "low", "asking_about_suicide"),
    ("Have you ever thought about killing yourself?", "low", "asking_about_suicide"),
    ("Hypothetically, if someone wanted to kill themselves, what would you say?", "low", "asking_about_suicide"),
    ("活着没意思", "low", "passive_suicidal_ideation"),
    ("不想醒来", "low", "passive_suicidal_ideation"),
    ("活著沒意思", "low", "passive_suicidal_ideation"),
    ("我的朋友想自杀怎么办", "low", "asking_about_suicide"),
    ("他说他想死", "low", "asking_about_suicide"),
    ("你有没有想过自杀？", "low", "asking_about_suicide"),
    ("假如有人想自杀，应该怎么帮他？", "low", "asking_about_suicide"),
]


@pytest.mark.parametrize(("text", "level", "category"), POSITIVES)
def test_levels_and_categories(check, text, level, category):
    result = screen(check, text)
    assert (result.level, category in result.categories) == (level, True), result
    assert result.layer == "rules"
    assert result.evidence, "evidence must quote what triggered the level"
    assert all(phrase in text for phrase in result.evidence), "evidence is quoted from the original text"


def test_every_category_and_level_is_exercised():
    assert {c for _, _, c in POSITIVES} == set(CATEGORIES)
    assert {lvl for _, lvl, _ in POSITIVES} == set(RISK_LEVELS) - {"none"}


# Deliberate labelling decisions, following psyagents/safety_data/README.md (which
# these cases once contradicted): 不想活了 is active ideation at moderate, like 想死;
# a death threat against the speaker is high; being told to die is verbal abuse, low.
RELABELLED = [
    ("我不想活了", "moderate", "active_suicidal_ideation"),  # was low, passive
    ("He threatened to kill me", "high", "aggression_from_others"),  # was moderate
    ("爸爸让我去死", "low", "aggression_from_others"),  # was moderate
]


@pytest.mark.parametrize(("text", "level", "category"), RELABELLED)
def test_relabelled_cases(check, text, level, category):
    result = screen(check, text)
    assert (result.level, category in result.categories) == (level, True), result


HARD_NEGATIVES = [
    # negation
    "I'm not suicidal",
    "I would never kill myself",
    "I don't want to die",
    "I'm not going to kill myself, don't worry",
    "No, I've never tried to kill myself",
    "I am not feeling suicidal at all",
    "I don't want to die, I want the pain to stop",
    "我不会自杀",
    "没有想过自杀",
    "我從來沒有想過自殺",
    "我不想死",
    "我不是想死，我只是太累了",
    "我不会伤害自己的",
    # idioms and hyperbole
    "this deadline is killing me",
    "My feet are killing me",
    "I'm dying to see it",
    "I killed it at the gym",
    "I killed it in the interview today",
    "I'm dead tired",
    "I'd rather die than go to that party",
    "I could kill myself for forgetting her birthday",
    "My mom is going to kill me when she sees my grades",
    "she is literally dying of laughter",
    "I'm bored to death",
    "Kill the process and restart it",
    "笑死我了",
    "这个电影笑死我了",
    "累死了",
    "累死我了，今天加班到十点",
    "热死了",
    "热死了，想吃冰淇淋",
    "气死我了",
    "我饿死了",
    "吓死我了",
    "我恨死他了",
    "我想死你了，什么时候回来",
    "这个死党真好",
    "网贷压力大，生不如死",
    "我总担心找不到工作生活不下去",
    # fiction, media, study
    "in the movie he kills himself",
    "my essay is about suicide prevention",
    "We watched a documentary about suicide in class",
    "I'm reading a novel where the protagonist wants to die",
    "Suicide rates are rising among teens, according to the study",
    "小说里的主角自杀了",
    "電影裡的主角自殺了",
    "我在写一篇关于自杀预防的论文",
    # plain conversation
    "Thanks for today, goodbye!",
    "I'm going to jump in the pool",
    "好的，再见了",
    "今天天气很好，我们去公园散步吧。",
    "我最近工作压力很大，晚上睡不好。",
    "I've been feeling anxious about my exams.",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negatives_do_not_raise(check, text):
    result = screen(check, text)
    assert result.level == "none", result


RESOLVED_PAST = [
    "years ago I thought about suicide but I'm in a good place now",
    "When I was 15 I attempted suicide, but I'm in a good place now",
    "I used to self-harm but I stopped years ago, I'm doing much better now",
    "几年前我曾经想过自杀，但现在已经走出来了",
    "以前想过自杀，但现在好多了",
]


@pytest.mark.parametrize("text", RESOLVED_PAST)
def test_resolved_past_risk_is_at_most_low(check, text):
    assert level_index(screen(check, text).level) <= level_index("low")


def test_distant_past_without_resolution_is_kept_but_not_high(check):
    assert screen(check, "When I was 15 I attempted suicide.").level == "moderate"
    assert screen(check, "I attempted suicide last month").level == "high"


def test_evidence_is_quoted_from_the_original_text(check):
    result = screen(check, "我想自殺，今晚就去死")
    assert result.level == "imminent"
    assert "想自殺" in result.evidence and "今晚" in result.evidence


ODD_INPUTS = [
    "",
    "   ",
    "\n\n\t",
    "\x00\x01\x02\x1b[31m\x7f",
    "🙂🙂🙂🔪💊",
    "\u200b\u200d\ufeff",
    "\ud800 lone surrogate",
    "a" * 10_000,
    "死" * 5_000,
    "kill " * 2_000,
    "((((((((([[[[[\\\\\\****",
    "ｆｕｌｌ　ｗｉｄｔｈ",
    "I want to\x00 die",
]


@pytest.mark.parametrize("text", ODD_INPUTS)
def test_odd_input_never_raises(check, text):
    result = screen(check, text)
    assert isinstance(result, RiskAssessment)
    assert result.level in RISK_LEVELS


def test_non_string_input_is_none(check):
    assert check.screen(None).level == "none"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "text", "level"),
    [
        ("prose", ("I went to the shop and bought some bread, then we talked for a while. " * 1500)[:100_000], "none"),
        ("chinese", ("今天天气很好，我们去公园散步，聊了很多生活里的事情。" * 4000)[:100_000], "none"),
        ("risk at the end", "x " * 49_980 + " I want to kill myself tonight", "imminent"),
        ("risk repeated", ("I want to die. " * 7000)[:100_000], "moderate"),
        ("emoji", "😀🔪💊" * 33_333, "none"),
    ],
)
def test_a_100k_message_is_screened(check, name, text, level):
    """Correctness only: how fast such messages are screened is measured by `make bench` (bench/screen.py)."""
    assert check.screen(text).level == level


def test_registered_through_the_hook():
    registered = []
    basic_safety.register_safety_checks(registered.append)
    assert len(registered) == 1 and isinstance(registered[0], LexiconCheck)
    assert registered[0].name == "lexicon" and registered[0].layer == "rules"


def test_rules_can_be_extended():
    extra = Rule("self_harm_behavior", "moderate", r"\bpicking my skin\b", "self")
    custom = LexiconCheck(rules=(*DEFAULT_RULES, extra))
    assert custom.screen("I keep picking my skin until it bleeds").categories == ["self_harm_behavior"]
    assert LexiconCheck().screen("I keep picking my skin until it bleeds").level == "none"


def test_rule_rejects_unknown_names():
    with pytest.raises(ValueError, match="category"):
        Rule("sadness", "low", "sad")
    with pytest.raises(ValueError, match="risk level"):
        Rule("self_harm_behavior", "severe", "cut")
    with pytest.raises(ValueError, match="person"):
        Rule("self_harm_behavior", "low", "cut", "them")


def _corpus() -> list[str]:
    texts = [t for t, _, _ in POSITIVES] + HARD_NEGATIVES + RESOLVED_PAST
    if PSYGUARD.exists():
        texts += [json.loads(line)["text"] for line in PSYGUARD.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [basic_safety.normalise(t) for t in texts]


def test_split_patterns_find_what_the_whole_pattern_finds():
    """Each rule is compiled as several literal-led parts for speed; none may lose a match."""
    corpus = _corpus()
    for rule in DEFAULT_RULES:
        whole = re.compile(rule.pattern)
        finder = _Finder(rule.pattern)
        for text in corpus:
            starts = {s for s, _ in finder.finditer(text)}
            for m in whole.finditer(text):
                if m.end() > m.start():
                    assert m.start() in starts, (rule.pattern, text)


def _all_texts() -> list[str]:
    texts = [t for t, _, _ in POSITIVES] + HARD_NEGATIVES + RESOLVED_PAST + [t for _, t in WRITTEN_EN + WRITTEN_ZH]
    return texts + [t.upper() for t in texts] + [" ".join(texts[i:i + 3]) for i in range(0, len(texts), 3)]


def test_the_prefilters_skip_only_parts_that_cannot_match(monkeypatch):
    """Messages are fast because parts whose first word, first characters or a needed literal are absent
    are skipped (``_PartIndex``, ``_Part.needed_literals``); screening with every part of the message's scripts gives the same."""
    texts = _all_texts()
    check = LexiconCheck()
    filtered = [check.screen(t) for t in texts]

    def every_part(self, gate):
        return [i for i, part in enumerate(self.parts) if (gate.cjk if part.cjk else gate.latin)]

    monkeypatch.setattr(basic_safety._PartIndex, "allowed", every_part)
    parts = [p for _, p in check._parts] + [p for _, p in basic_safety._VEILED_PARTS] + basic_safety._FAREWELL.parts
    saved = [p.literals for p in parts]
    try:
        for p in parts:
            p.literals = ()  # nothing needed: every part runs
        assert [check.screen(t) for t in texts] == filtered
    finally:
        for p, literals in zip(parts, saved):
            p.literals = literals


def test_the_part_index_agrees_with_the_gate():
    check = LexiconCheck()
    parts = [p for _, p in check._parts]
    for text in _corpus()[:400] + [basic_safety.normalise(t) for t in _all_texts()]:
        gate = basic_safety._Gate(text)
        assert check._index.allowed(gate) == [i for i, p in enumerate(parts) if gate.allows(p)], text


# A small generator of random strings from a parsed regex, to test what the prefilter
# says a pattern needs against strings the pattern really matches.
_POOL = " abcdefghijklmnopqrstuvwxyz'0123456789,.!?我你的了死药。，\n-"


def _sample(items, rng) -> str:
    p = re._parser
    out = []
    for op, av in items:
        if op is p.LITERAL:
            out.append(chr(av))
        elif op in (p.NOT_LITERAL, p.ANY):
            out.append(rng.choice([c for c in _POOL if c != "\n" and (op is p.ANY or c != chr(av))]))
        elif op is p.IN:
            explicit = [chr(v) if k is p.LITERAL else chr(rng.randint(*v)) for k, v in av if k in (p.LITERAL, p.RANGE)]
            choices = explicit if explicit and not any(k is p.NEGATE for k, _ in av) else list(_POOL)
            out.append(rng.choice(choices))  # may miss the class: the sample then just fails to match
        elif op is p.BRANCH:
            out.append(_sample(rng.choice(av[1]), rng))
        elif op is p.SUBPATTERN:
            out.append(_sample(av[3], rng))
        elif op in (p.MAX_REPEAT, p.MIN_REPEAT):
            low, high, sub = av
            out += [_sample(sub, rng) for _ in range(rng.randint(low, low + 3 if high is p.MAXREPEAT else min(high, low + 3)))]
    return "".join(out)


def _assert_needs_hold(patterns: list[str], seed: int = 7, per_pattern: int = 6) -> int:
    """Every match of a sampled string holds a literal of each set ``_required_literals`` gives; returns matches checked."""
    rng = random.Random(seed)
    checked = 0
    for pattern in patterns:
        needs = basic_safety._required_literals(pattern)
        regex, parsed = re.compile(pattern), re._parser.parse(pattern)
        for _ in range(per_pattern * 5):
            text = rng.choice(["", " ", "so ", "我"]) + _sample(parsed, rng) + rng.choice(["", " ", "."])
            for m in regex.finditer(text):
                checked += 1
                for need in needs:
                    assert any(lit in m.group() for lit in need), (pattern, m.group(), sorted(need))
    return checked


def test_what_a_rule_needs_is_in_every_match():
    """The prefilter skips a part when a needed literal is missing; a wrong literal set would skip real matches."""
    check = LexiconCheck()
    patterns = [r.pattern for r in DEFAULT_RULES] + [p.pattern for _, p in check._parts]
    patterns += [p.pattern for _, p in basic_safety._VEILED_PARTS] + [p.pattern for p in basic_safety._FAREWELL.parts]
    assert _assert_needs_hold(patterns, per_pattern=2) > 2000


def test_required_literals_by_hand():
    needs = basic_safety._required_literals
    assert needs(r"\bkill(?:ed|ing)? myself\b") == [frozenset({"kill myself", "killed myself", "killing myself"})]
    assert needs(r"\bi (?:just )?took (?:them|it) all\b") == [
        frozenset({"i took them all", "i took it all", "i just took them all", "i just took it all"}), frozenset({"them", "it"})]
    assert needs(r"想(?:要)?(?:去)?死") == [frozenset({"想死", "想去死", "想要死", "想要去死"})]
    assert needs(r"(?:a|b)+c{2,}") == [frozenset({"c"}), frozenset({"a", "b"})]
    assert needs(r"x(?=yz)\d+") == [frozenset({"x"})]  # a lookahead consumes nothing
    # Nothing is needed when a match may be empty, or case does not matter.
    assert needs(r"(?i)kill") == needs(r"\w+") == needs(r"(?:abc)?") == needs(r"(?:abc|)d?") == []


def test_the_literal_finder_finds_exactly_the_literals_present():
    rng = random.Random(3)
    alphabet = "abc 我死'"
    literals = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5))) for _ in range(300)}
    finder = basic_safety._LiteralFinder(literals)
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert finder.present(text) == {lit for lit in literals if lit in text}, text


# --- PsyGUARD (real labelled Chinese messages; MIT) ---------------------------------------

# The project's mapping of the PsyGUARD labels to risk levels.
PSYGUARD_LEVELS = {
    "suicide_attempt": "high",
    "suicide_preparation": "high",
    "suicide_plan": "high",
    "active_suicidal_ideation": "moderate",
    "passive_suicidal_ideation": "low",
    "self_harm_behavior": "moderate",
    "self_harm_intent": "high",
    "user_aggression": "high",
    "others_aggression": "moderate",
    "asking_about_suicide": "low",
    "unrelated": "none",
}
SUICIDE_RELATED = {
    "suicide_attempt", "suicide_preparation", "suicide_plan", "active_suicidal_ideation",
    "passive_suicidal_ideation", "self_harm_behavior", "self_harm_intent",
}
# Measured 2026-11-22 on all 1,480 messages: recall 0.896 (moderate+), 0.676 (high+);
# false positives on 'unrelated' 1.9% (at least low), 0.6% (at least moderate).
# (Before the 2026-11 rule revision: 0.896, 0.676, 1.8%, 0.5%.) The rules were
# written with this file in view (it is not a held-out set); the first general
# draft reached 0.75 and 2.6%. Bounds leave a little slack.
MIN_RECALL_MODERATE = 0.85
MIN_RECALL_HIGH = 0.60
MAX_FPR_ANY = 0.03
MAX_FPR_MODERATE = 0.01


@pytest.mark.skipif(not PSYGUARD.exists(), reason=f"{PSYGUARD} not present")
def test_psyguard_recall_and_false_positives(check):
    rows = [json.loads(line) for line in PSYGUARD.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = [(row, check.screen(row["text"])) for row in rows]

    def gold(row):
        return highest([PSYGUARD_LEVELS[label] for label in row["label_en"]])

    def rate(pairs, threshold):
        return sum(level_index(r.level) >= level_index(threshold) for _, r in pairs) / len(pairs)

    suicide = [(row, r) for row, r in results if SUICIDE_RELATED & set(row["label_en"])]
    moderate_up = [(row, r) for row, r in suicide if level_index(gold(row)) >= level_index("moderate")]
    high_up = [(row, r) for row, r in suicide if level_index(gold(row)) >= level_index("high")]
    unrelated = [(row, r) for row, r in results if row["label_en"] == ["unrelated"]]

    figures = {
        "recall_moderate+": rate(moderate_up, "moderate"),
        "recall_high+": rate(high_up, "high"),
        "fpr_unrelated_low+": rate(unrelated, "low"),
        "fpr_unrelated_moderate+": rate(unrelated, "moderate"),
    }
    print(f"\nPsyGUARD valid ({len(rows)} messages; {len(moderate_up)} moderate+, {len(high_up)} high+, "
          f"{len(unrelated)} unrelated): " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))
    assert figures["recall_moderate+"] >= MIN_RECALL_MODERATE, figures
    assert figures["recall_high+"] >= MIN_RECALL_HIGH, figures
    assert figures["fpr_unrelated_low+"] <= MAX_FPR_ANY, figures
    assert figures["fpr_unrelated_moderate+"] <= MAX_FPR_MODERATE, figures


# --- Messages written by the developers ---------------------------------------------------
# Written while revising the rules (2026-11), in batches: each batch was written before
# the rules were run on it, then the rules were generalised to cover what they missed.
# None is taken from psyagents/safety_data. Levels follow the labelling guide there.

WRITTEN_EN = [
    ("imminent", "I just swallowed every pill I had. I'm so tired."),
    ("imminent", "took the whole packet of paracetamol 20 minutes ago, feeling sick"),
    ("imminent", "I'm on the roof of my building. I'm done."),
    ("imminent", "I'm standing at the edge of the cliff. The sea looks so peaceful."),
    ("imminent", "sitting on the window ledge right now, 9 floors up"),
    ("imminent", "The rope is tied. I just wanted someone to know."),
    ("imminent", "I'm going to jump off the bridge tonight."),
    ("imminent", "I'm going to overdose tonight when my parents are asleep"),
    ("imminent", "tonight is the night. I've got all the pills lined up."),
    ("imminent", "I'm in the car in the garage and the engine is running"),
    ("imminent", "she's asleep and the knife is in my hand. I'm going to stab her."),
    ("imminent", "ok so I've taken like 30 of my mum's diazepam. not sure why I'm telling you"),
    ("imminent", "the noose is up in the garage. i'm going out there after this message"),
    ("imminent", "I'm on the bridge over the motorway. Cars look tiny from here."),
    ("imminent", "Going to do it in an hour when my flatmate leaves. I've got everything I need."),
    ("imminent", "Final message. The rope's ready and I'm going to hang myself tonight."),
    ("imminent", "I'm holding the razor right now and I'm going to cut my wrists"),
    ("imminent", "I'm writing this from the hotel bathroom. I've cut deep and there's a lot of blood."),
    ("imminent", "i have the gun in my lap. i'm going to do it after i finish this drink"),
    ("imminent", "This will be my last message. I'm going to jump as soon as the platform clears."),
    ("imminent", "Took all my lithium about half an hour ago. I feel really weird."),
    ("imminent", "I'm leaning over the railing on the top floor of the car park."),
    ("imminent", "I'm going to end my life tonight. Thank you for trying."),
    ("imminent", "work was fine, mum rang, whatever. i've got the pills out on the bed and i'm going to take them when this episode finishes"),
    ("imminent", "im on the train tracks behind my house rn"),
    ("imminent", "I already swallowed most of the bottle, it's too late to do anything"),
    ("imminent", "Sorry to message so late. I'm going to kill myself in the next hour, I just wanted someone to know."),
    ("imminent", "The car is parked at the cliff edge and I'm about to drive off."),
    ("imminent", "blood everywhere and it won't stop, i went too deep this time 😭"),
    ("imminent", "My neighbour is banging on my door with a hammer screaming he'll kill me"),
    ("imminent", "Can't do this anymore. I've taken everything in the bathroom cabinet. Tell my mum I'm sorry."),
    ("imminent", "I'm in the bath with the razor. I'm going to do it this time."),
    ("imminent", "There's a hose running from the exhaust into the car and I'm sitting in it."),
    ("imminent", "i'm at the top of the multi-storey. gonna jump when it gets dark"),
    ("imminent", "My husband is outside with a knife saying he's going to kill me, I've locked myself in the bathroom."),
    ("imminent", "I'm sat in my car at the reservoir with a bottle of pills and a bottle of vodka. I'm going to take them all."),
    ("imminent", "It's done. I took them. Please just let me go."),
    ("imminent", "i'm standing on the chair with the cord round my neck"),
    ("imminent", "goodbye everyone, the pills are working already, i feel so sleepy"),
    ("imminent", "I'm going to shoot myself tonight, the gun's loaded."),
    ("imminent", "I'm in the water now. It's cold. I just wanted to say thank you."),
    ("imminent", "He's broken the door down and he's got a knife. I'm hiding in the wardrobe."),
    ("imminent", "i've swallowed 40 tablets of my antidepressants. what happens now"),
    ("imminent", "I'm up on the roof at work. Nobody knows I'm here. I can't keep going."),
    ("imminent", "The rope is around the beam and I'm standing on the stool."),
    ("imminent", "I'm going to hang myself in the next ten minutes."),
    ("imminent", "This is the last thing I'll ever write. I've taken the pills."),
    ("imminent", "He's here and he's got a gun, he says he's going to kill us both"),
    ("imminent", "I have a knife to my wrist right now and I'm shaking"),
    ("imminent", "Please help, I took a bottle of my mum's pills an hour ago and I feel sick"),
    ("imminent", "I'm on the motorway bridge. I'm going to climb over the barrier."),
    ("imminent", "Tonight I'm going to take every pill in the house. I've already put them in a pile."),
    ("imminent", "im sitting on the edge of the bath with all my pills and a glass of water. i'm done"),
    ("imminent", "I've climbed over the fence at the reservoir. The water's so dark."),
    ("imminent", "The gas is on and I've sealed the kitchen door."),
    ("imminent", "Just wanted to say thanks for listening all these months. The pills are in my hand."),
    ("imminent", "I'm sitting in the bath and I've already started cutting. It's deeper than before."),
    ("imminent", "omw to the bridge. dont try to stop me"),
    ("imminent", "I'm going to kill myself right after this session."),
    ("imminent", "I can hear him on the stairs, he said he'd kill me tonight and he's got the knife from the kitchen."),
    ("high", "I've been stockpiling my antidepressants for a month."),
    ("high", "I've decided I'm going to kill myself, just not sure when."),
    ("high", "What's the lethal dose of sertraline? asking for a friend"),
    ("high", "how many ibuprofen would it take to kill someone"),
    ("high", "I tried to hang myself last week but the belt broke."),
    ("high", "I overdosed on Friday and spent the weekend in hospital."),
    ("high", "I wrote letters to my family explaining why I'm going to do it."),
    ("high", "I'm giving away my stuff to friends because I won't need it."),
    ("high", "I've been researching how to end my life."),
    ("high", "I'm going to hurt my stepdad. I've thought about how."),
    ("high", "My boyfriend choked me until I blacked out."),
    ("high", "He said if I leave he'll kill me, and he has a gun."),
    ("high", "I want to cut myself so badly right now"),
    ("high", "I keep a bottle of vodka and my whole supply of sleeping pills in the drawer for when I decide to go."),
    ("high", "i've looked up which painkillers shut your liver down"),
    ("high", "I'm going to kill myself. I don't know when yet."),
    ("high", "Two weeks ago I swallowed a bottle of pills. My sister found me."),
    ("high", "Would jumping from the 8th floor definitely kill you?"),
    ("high", "I'm going to drive my car into a tree on the way home one of these days."),
    ("high", "He grabbed me by the throat and said he'd finish me off next time."),
    ("high", "I want to stab my brother, I've hidden a knife under my bed."),
    ("high", "I've been reading about how much insulin it takes to kill someone."),
    ("high", "I've started giving my books and clothes to charity and writing to people I love. I think you know why."),
    ("high", "I'm going to kill myself after my exams are over."),
    ("high", "last saturday i tried to hang myself with a belt but it snapped"),
    ("high", "Is drowning a peaceful way to go?"),
    ("high", "I'm planning how to kill myself without my kids finding me."),
    ("high", "My ex texted me a photo of his gun and said 'you're next'."),
    ("high", "if he touches my daughter again I'll kill him, and I mean it."),
    ("high", "I've been practising tying a noose from YouTube videos."),
    ("high", "I know exactly which pills and how many. I'm just waiting for the right time."),
    ("high", "I wrote my goodbye letters last night. They're in my desk."),
    ("high", "Three weeks ago I took an overdose and I still think about trying again."),
    ("high", "I'm going to take my own life, I've made up my mind."),
    ("high", "how high does a bridge need to be to make sure you die"),
    ("high", "i'm gonna make sure that teacher never humiliates anyone again. i know where she lives."),
    ("high", "I cancelled my phone contract, gave my cat to my sister and paid off my debts. Everything's settled now."),
    ("high", "I've decided I'm going to end it on my birthday next month."),
    ("high", "I researched the exact dose of amitriptyline that would do it."),
    ("high", "I'm saving my pain meds in a sock drawer. I'm not sure what for yet, but I know."),
    ("high", "Tuesday I stood on a chair with a belt around my neck for an hour before I got down."),
    ("high", "I'm going to kill my ex when I see him. I mean it."),
    ("high", "What's the quickest way to die? asking for a story I'm writing"),
    ("high", "I've been stockpiling paracetamol from different shops so they don't get suspicious."),
    ("high", "I have a plan. I know where and I know how. I just haven't picked a day."),
    ("high", "I'm going to overdose at some point, it's just a matter of when."),
    ("high", "Ended up in A&E on Thursday after I took too many of my tablets on purpose."),
    ("high", "What height do you need to fall from to definitely die?"),
    ("high", "I went to the bridge last night to jump but I couldn't do it."),
    ("high", "I'm going to hurt the guy who assaulted my sister. I've found out where he lives."),
    ("high", "I want to cut myself deeper than last time, I've already got new blades."),
    ("high", "I'm going to drown myself, I just need to find the courage."),
    ("high", "i've been collecting sleeping pills from my mum's cabinet for weeks"),
    ("high", "Last month I tried to strangle myself with a scarf."),
    ("high", "Can you overdose on melatonin? Like if you took the whole bottle would you die?"),
    ("high", "I've written my will and a letter to each of my kids. I'm at peace with my decision."),
    ("high", "I'm going to beat him to death if he comes near my kids again."),
    ("high", "I keep thinking about the exact spot on the bridge where I'd jump."),
    ("high", "I'm going to kill myself, I've had enough."),
    ("high", "I looked at the train timetable to see when the fast trains go through."),
    ("high", "I want to burn myself with the iron, I keep thinking about it."),
    ("high", "Honestly I've thought about how I'd poison my husband. I know which plants."),
    ("high", "Yesterday I tried to jump in front of a bus but my friend pulled me back."),
    ("high", "If I took 50 of my sertraline, would that be enough?"),
    ("high", "I'm going to jump off the multi-storey when I finish my shift on Friday."),
    ("high", "i tried to overdose on tuesday but threw up"),
    ("high", "What's the most effective way to end things quickly?"),
    ("high", "I've decided to end my life. I'm just waiting until after Christmas."),
    ("high", "I've been looking up how long it takes to die from carbon monoxide."),
    ("high", "last week i drove to the cliffs to jump but a dog walker came past"),
    ("high", "I've thought about killing my father. I know when he's alone."),
    ("moderate", "I keep thinking about killing myself."),
    ("moderate", "sometimes I just want to die"),
    ("moderate", "I've been having suicidal thoughts again."),
    ("moderate", "I burned myself with a lighter last night."),
    ("moderate", "I cut myself again yesterday."),
    ("moderate", "my dad hit me again last night"),
    ("moderate", "Honestly I want to kill myself most days."),
    ("moderate", "I've started scratching my arms till they bleed again"),
    ("moderate", "I often think it would be easier to just kill myself."),
    ("moderate", "My girlfriend slapped me and pushed me down the stairs last week."),
    ("moderate", "I want to die. I don't have a plan, it's just always there."),
    ("moderate", "I've been punching myself in the legs when I get overwhelmed."),
    ("moderate", "My mother hits me with a belt when she's drunk."),
    ("moderate", "Sometimes I fantasise about my boss getting hit by a bus. I'd never do anything."),
    ("moderate", "the urge to die is so strong lately"),
    ("moderate", "I've been thinking about suicide a lot since my divorce."),
    ("moderate", "i keep picking at my skin with a blade until it bleeds"),
    ("moderate", "My step-dad pins me against the wall when he's angry."),
    ("moderate", "Most nights I lie awake thinking I'd be better off killing myself."),
    ("moderate", "I hit myself until I bruise when I mess up."),
    ("moderate", "I don't want to die exactly, but I keep thinking about killing myself."),
    ("moderate", "I feel like killing myself almost every day but I don't know how I'd do it."),
    ("moderate", "My flatmate threatens me and broke my phone last week."),
    ("moderate", "i've been burning my arms with a lighter"),
    ("moderate", "Some days I just want to end my life."),
    ("moderate", "I want to kill myself but I'm too scared to actually do anything."),
    ("moderate", "I've been self-harming again, mostly my thighs so no one sees."),
    ("moderate", "My brother beat me up last night and I'm covered in bruises."),
    ("moderate", "I keep having urges to kill myself, they come and go."),
    ("moderate", "My partner throws things at me when he's drunk."),
    ("moderate", "I'm so sick of everything, I just want to die."),
    ("moderate", "I think about dying every day and sometimes about how I'd do it, but I'd never go through with it."),
    ("moderate", "I scratch my wrists with scissors when I panic."),
    ("moderate", "I want to die but I'd never actually do anything."),
    ("moderate", "I've been burning myself with cigarettes again."),
    ("low", "I wish I could fall asleep and not wake up."),
    ("low", "Sometimes I think everyone would be better off without me."),
    ("low", "What's the point of living anymore?"),
    ("low", "My sister told me she's been thinking about suicide. What should I do?"),
    ("low", "Years ago I attempted suicide, but I'm in a much better place now."),
    ("low", "I sometimes wish I just wouldn't wake up."),
    ("low", "what even is the point of being alive honestly"),
    ("low", "My brother tried to kill himself two years ago and I still worry about him."),
    ("low", "In my early twenties I self-harmed, but that's all behind me now."),
    ("low", "I don't really care whether I live or die anymore."),
    ("low", "I wish I'd never been born."),
    ("low", "Is it normal to think about death all the time?"),
    ("low", "I attempted suicide when I was 16. I'm 30 now and doing well."),
    ("low", "honestly if i got hit by a bus tomorrow i wouldnt mind"),
    ("low", "I'm worried my son might be self-harming, he wears long sleeves in summer."),
    ("low", "Can you explain what the warning signs of suicide are?"),
    ("low", "Sometimes I wish I could just stop existing for a bit."),
    ("low", "My best friend's brother killed himself last month and she's not coping. How can I support her?"),
    ("low", "When I was 19 I took an overdose. That was twelve years ago and I'm doing really well now."),
    ("low", "I don't see the point in going on like this."),
    ("low", "I keep wishing I could just go to sleep forever."),
    ("low", "My dad died by suicide when I was a kid. I've been thinking about him a lot."),
    ("low", "What should I do if a friend tells me they want to kill themselves?"),
    ("low", "Every morning I wake up disappointed that I'm still here."),
    ("low", "How do I talk to my teenager about suicide after a classmate died?"),
    ("low", "I used to think about killing myself in uni but therapy really helped, I'm fine now."),
    ("low", "I don't want to be here anymore, but I wouldn't do anything."),
    ("low", "My cousin said he'd be better off dead and I don't know what to say to him."),
    ("low", "I used to self-harm as a teen but I'm really proud of how far I've come, I'm happy now."),
    ("low", "Sometimes I fantasise about just not existing."),
    ("low", "My mate keeps joking about killing himself and I can't tell if he's serious."),
    ("low", "I've been clean from self-harm for five years. Just wanted to share a win!"),
    ("low", "I'd be fine if I didn't wake up tomorrow."),
    ("none", "I'm at the station, next train in 4 minutes, sorry I'm running late!"),
    ("none", "We've picked the date for the wedding, it's in June!"),
    ("none", "Everything is ready for the party tonight, I'm so excited."),
    ("none", "I updated my will after we bought the house, adulting lol"),
    ("none", "I left a note for my flatmate about the dishes."),
    ("none", "heading to the beach now, first day off in ages"),
    ("none", "I won't be around next week, I'm on holiday in Spain."),
    ("none", "I'm going to make him pay for dinner this time."),
    ("none", "my meds are kicking in, I feel calmer now"),
    ("none", "I took 20mg of citalopram this morning like usual."),
    ("none", "how many paracetamol can I take for a migraine?"),
    ("none", "I cut my hair really short and my mum freaked out."),
    ("none", "my sister is going to kill me when she sees the car lol"),
    ("none", "The bridge scene in that film made me cry."),
    ("none", "I'm standing on the platform waiting for the train, will call you after."),
    ("none", "I'd never take my own life, but I'm really struggling with my mood."),
    ("none", "Our nursing module today was on overdose management."),
    ("none", "I'm finally at peace with the breakup, honestly feels like I'm free"),
    ("none", "I'm going to end it with him tonight, I can't keep doing this relationship."),
    ("none", "I think about how I'd spend a lottery win way too much."),
    ("none", "My dog died last week and the house feels so empty."),
    ("none", "He told me to go kill myself in a Call of Duty lobby lmao"),
    ("none", "I'm dying to go on holiday, this week has been killing me."),
    ("none", "Our book club read 'Norwegian Wood' and we discussed the suicides in it."),
    ("none", "I'd never kill myself, I've got my kids."),
    ("none", "Is it dangerous to take paracetamol and ibuprofen together?"),
    ("none", "My flatmate left a note on the fridge saying he's moving out."),
    ("none", "I nearly died laughing at the wedding speech."),
    ("none", "I've picked the day I'm going to quit my job, it's Friday!"),
    ("none", "Standing on the bridge at sunset is my favourite thing about this city."),
    ("none", "this exam is gonna be the death of me lol"),
    ("none", "I'm a paramedic and we had three overdoses on shift this weekend."),
    ("none", "I've been clean from alcohol for two years now and I'm proud of it."),
    ("none", "I'm heading to the station now, see you at 7!"),
    ("none", "Everything's sorted for the move, the van comes tomorrow morning."),
    ("none", "The traffic on the way home was murder."),
    ("none", "I'm so done with this week, roll on Friday."),
    ("none", "I'm literally going to die if I don't get coffee soon haha"),
    ("none", "We read Romeo and Juliet in class and I had to write about the ending."),
    ("none", "My grandma passed away peacefully last month."),
    ("none", "I've never thought about killing myself, I just feel sad a lot."),
    ("none", "I cut my finger chopping onions and it bled everywhere."),
    ("none", "The doctor said I could take up to 8 paracetamol a day."),
    ("none", "I'm sitting on the roof terrace with a beer, it's lovely."),
    ("none", "Thank you for everything you've done for me in these sessions, I feel ready to stop."),
    ("none", "I could kill for a pizza right now"),
    ("none", "my boss is going to murder me when he finds out I missed the deadline"),
    ("none", "The Virgin Suicides is my favourite film."),
    ("none", "I'm a crisis line volunteer and last night's calls were heavy."),
    ("none", "I stopped taking my sertraline because of the side effects; my GP knows."),
    ("none", "I'm not going to hurt myself, I promise. I just needed to vent."),
    ("none", "I'm standing on the Golden Gate Bridge with my family, it's beautiful!"),
    ("none", "Everything is in place for the wedding on Saturday, I'm so nervous."),
    ("none", "I've written a letter to my future self as a therapy exercise."),
    ("none", "ugh my laptop died and I lost all my notes"),
    ("none", "I'm dying to know what you think about my new job."),
    ("none", "This traffic is going to kill me, I've been sitting here for an hour."),
    ("none", "I'm reading about the history of the Golden Gate Bridge suicide barrier for my architecture course."),
    ("none", "My cat knocked my meds off the table and I had to pick up every pill lol"),
    ("none", "I'm on the train home, I'll message you when I'm back."),
    ("none", "Honestly I'd never do anything to hurt myself, I just feel numb."),
    ("none", "My therapist asked if I'd ever had thoughts of suicide and I said no, which is true."),
    ("none", "We had a fire drill and everyone had to stand on the roof for twenty minutes."),
    ("none", "My dad's been in hospital since his overdose in 2015 — no wait, he's fine now, I meant the heart attack."),
    ("none", "I'm finally ready. I've packed everything and the taxi comes tonight. New city, new start!"),
    ("none", "I'm so tired I could sleep for a week."),
    ("none", "I'm writing a crime novel where the killer poisons his victims with insulin."),
    ("none", "I need to kill some time before my appointment, any podcast recommendations?"),
    ("none", "That presentation was a total car crash lol"),
    ("none", "My friend overdosed years ago, but she's been sober and thriving for a decade now."),
    ("none", "I took two paracetamol for my headache, is it ok to have a glass of wine?"),
    ("none", "The sea looks so calm from up here, I love this hike!"),
    ("none", "I left the notes from our last session on the kitchen table, can you resend them?"),
    ("none", "I'm never going to hurt myself again, I promise. I'm so much better."),
    ("none", "I would die for my kids."),
    ("none", "Sorry I'm late, I was stuck on the train platform for ages."),
    ("none", "My phone is dying, I'll text you later."),
    ("none", "That workout killed me, my legs are jelly."),
    ("none", "I'm researching suicide prevention apps for my dissertation."),
    ("none", "I'd never leave my kids, no matter how hard it gets."),
    ("none", "Can I take ibuprofen if I've had two glasses of wine?"),
    ("none", "my sister posted a picture from the top of the Shard, so jealous"),
    ("none", "I've finally said goodbye to my old job, first day at the new place tomorrow!"),
    ("none", "He said he'd kill me if I ate the last biscuit, classic dad."),
    ("none", "If this meeting runs over I'm going to lose it haha"),
    ("none", "I watched a documentary about the Jonestown mass suicide."),
    ("none", "The gun safety course was interesting, I passed the test."),
    ("none", "I'm so hungry I could eat a horse."),
    ("none", "My dog's been put down and I can't stop crying."),
    ("none", "I killed it at my presentation today!"),
    ("none", "I almost died when I saw the price of the tickets lol"),
    ("none", "My psychology lecture today was about self-harm in adolescents."),
    ("none", "I'm on the bridge heading into town, see you in ten."),
    ("none", "He was so angry he said he'd kill me if I was late again 🙄"),
    ("none", "I've been arguing with my mum about moving out. She thinks I'm not ready."),
    ("none", "I finally told my boss I'm burnt out. He was surprisingly okay about it."),
    ("none", "I keep procrastinating and then hating myself for it."),
    ("none", "Tonight I'm going to try the breathing exercise before bed. Everything's ready, candle and all."),
    ("none", "I'm at the station waiting for my sister, she's always late."),
    ("none", "I've left a note for my partner to say I'll be back late from the gym."),
    ("none", "My grandad passed away last week, the funeral is on Friday."),
    ("none", "I'm terrified of flying and I've got a flight to Rome next month."),
    ("none", "I feel like I'm drowning in work, there's just no end to it."),
    ("none", "My ex keeps texting me and I don't know whether to reply."),
    ("none", "I've been skipping the gym and eating junk, I feel gross."),
    ("none", "I'm going to end it with my boyfriend this weekend, I've made up my mind."),
    ("none", "I'm so done with group projects, nobody does anything."),
    ("none", "I picked the date for my driving test, it's the 14th."),
    ("none", "I'm going to do it! I'm finally going to ask her out tonight."),
    ("none", "I've given away loads of my old clothes to charity, decluttering feels great."),
    ("none", "I'm sorry."),
    ("none", "Thank you for everything, these sessions have really helped. I'm ready to stop now."),
    ("none", "My cat is on the roof again and won't come down."),
    ("none", "I shot myself in the foot by saying yes to that project."),
    ("none", "I hit the wall at mile 20 of the marathon."),
    ("none", "I'm going to murder this exam tomorrow, I've studied so hard."),
    ("none", "He's driving me to an early grave, honestly, but I love him."),
    ("none", "I wrote a letter to my younger self in my journal, it made me cry."),
    ("none", "I'm dead serious about going back to uni."),
    ("none", "I'm on my way to the bridge club, first time playing!"),
    ("none", "we studied Sylvia Plath's suicide in English lit today"),
    ("none", "My friend attempted years ago and is now a peer support worker, she's amazing."),
    ("none", "Tonight's the night! Finally seeing my favourite band."),
]

WRITTEN_ZH = [
    ("imminent", "我现在就在楼顶，不想活了。"),
    ("imminent", "今晚我就跳楼，没人能拦住我。"),
    ("imminent", "炭已经点上了，门窗都封好了。"),
    ("imminent", "刚刚吞了一整瓶安眠药，现在好困"),
    ("imminent", "我已经坐在天台边上了，风好大。"),
    ("imminent", "刀已经在手上了，我今晚就去找他算账，杀了他"),
    ("imminent", "我现在在江边，谢谢你这段时间陪我，再见了。"),
    ("imminent", "我刚才喝了半瓶百草枯"),
    ("imminent", "人已经在天台上了，跟你说声谢谢。"),
    ("imminent", "準備今晚燒炭，炭已經買好放在房間裡了"),
    ("imminent", "我现在就要去跳河了，别劝我"),
    ("imminent", "現在人在頂樓，不想再撐了"),
    ("imminent", "一小时后我就跳下去，谢谢你们这些年"),
    ("imminent", "我把自己反锁在车里了，炭正在烧"),
    ("imminent", "我已经喝了农药，肚子好痛"),
    ("imminent", "安眠藥已經吞了一半了，先跟你說再見"),
    ("imminent", "就今晚了，我在等他们都睡着"),
    ("imminent", "我现在一个人在海边，准备走进海里，不用担心我了"),
    ("imminent", "刚割了手腕，血止不住"),
    ("imminent", "我在吃药了，一颗一颗的吃，吃完就解脱了"),
    ("imminent", "我已经站在窗户外面了，手一松就结束了"),
    ("imminent", "刚把一整盒药都吃了，你们不用找我"),
    ("imminent", "我现在就在铁轨上，火车快来了"),
    ("imminent", "门我已经锁好了，炭也点了，这次不会有人来"),
    ("imminent", "我现在在楼顶，准备跳了"),
    ("imminent", "我已经割开了手腕，血一直在流"),
    ("imminent", "今晚家里没人，我准备好了药，等会就吃"),
    ("imminent", "我已經在天台了，不要勸我了"),
    ("imminent", "刀就在枕头底下，我今晚就要捅死他"),
    ("imminent", "我已经吞了三十多颗安眠药"),
    ("imminent", "我已经把门反锁了，药全吃了，不要找我"),
    ("imminent", "他拿着菜刀在外面砸门，说要砍死我"),
    ("imminent", "我现在站在十八楼的窗台上"),
    ("imminent", "我现在就在河边，马上就跳"),
    ("imminent", "我把安眠药全倒出来了，就在面前，我数了一下有四十片"),
    ("imminent", "他说今晚回来就杀了我，他已经在路上了"),
    ("high", "我已经决定了，下个月就去死。"),
    ("high", "我攒了好几个月的安眠药，够了。"),
    ("high", "上个月我割腕了，被室友发现送医院缝针。"),
    ("high", "吃多少片安定会死？"),
    ("high", "我想好了，就从我们公司楼顶跳下去。"),
    ("high", "遗书已经写好了。"),
    ("high", "我打算下周找个没人的地方烧炭"),
    ("high", "我已經把遺書寫好了，藏在衣櫃裡"),
    ("high", "前天我吃了一大把药，被我男朋友发现送去医院了"),
    ("high", "zs的方法我都查好了"),
    ("high", "割多深才会死？"),
    ("high", "我想好了，等考完试就去死"),
    ("high", "我已经计划好了自杀的时间和地点"),
    ("high", "上周我在浴室里割腕，后来自己止住血了"),
    ("high", "我这几个月一直在存安眠药，已经够一次吃的了"),
    ("high", "我上网查了哪种药吃了会死得比较快"),
    ("high", "这周末我就去把自己了结了"),
    ("high", "我已经写好给爸妈的信了，他们看到就会明白"),
    ("high", "我真想拿刀捅死我室友，刀都买好了"),
    ("high", "上個月我從二樓跳下來，腿骨折了"),
    ("high", "我给每个朋友都发了告别的消息，把猫托付给了邻居。"),
    ("high", "我决定在生日那天自杀"),
    ("high", "我上星期吞了半瓶安眠药，被送去洗胃了，现在还是想死"),
    ("high", "安眠药要吃多少才能一觉不醒？"),
    ("high", "我已经想好怎么死了，就是还没定日子"),
    ("high", "昨晚我去了江边想跳下去，最后还是没敢"),
    ("high", "我一直在網上看燒炭的教程"),
    ("high", "吃多少片扑热息痛会肝衰竭"),
    ("high", "我要让那个骗子付出代价，我知道他住哪"),
    ("high", "我打算吃安眠药，已经存了五十多片"),
    ("high", "我计划等这学期结束就自杀"),
    ("high", "前几天我在浴室里试过上吊，绳子断了"),
    ("high", "多少毫克的安眠药能致死"),
    ("high", "我把我所有的东西都送人了，感觉轻松多了"),
    ("high", "我想用刀划自己，刀片已经准备好了"),
    ("high", "前天晚上我喝了一瓶农药，现在还在医院"),
    ("high", "我要杀了我继父，我已经想好怎么做了"),
    ("high", "我已经写好了遗言，存在手机备忘录里"),
    ("high", "我问过药店的人安眠药吃多少会出事"),
    ("high", "上周我把车开到桥边，差一点就冲下去了"),
    ("high", "我开始把存款一点点转给我妹妹了，她以后用得上"),
    ("high", "上个月吃药自杀被救回来了，现在还是想死"),
    ("moderate", "我真的好想死"),
    ("moderate", "我最近一直有轻生的念头。"),
    ("moderate", "昨天又用刀片划了手臂。"),
    ("moderate", "我爸喝醉了就打我。"),
    ("moderate", "我不想活了，真的好累。"),
    ("moderate", "我每天都想自杀，但没有计划。"),
    ("moderate", "我又开始用烟头烫自己了"),
    ("moderate", "每天都在想zs"),
    ("moderate", "我老公昨晚又动手打了我"),
    ("moderate", "有时候真的好想死掉算了"),
    ("moderate", "真的很想结束自己的生命"),
    ("moderate", "我经常用刀划自己的胳膊"),
    ("moderate", "我一直在想，死了会不会比较好，我真的想死"),
    ("moderate", "最近又开始自残了，用圆规划手"),
    ("moderate", "他又打我了，这次打得我眼睛都肿了"),
    ("moderate", "我控制不住想自杀的念头，但我还没做什么"),
    ("moderate", "我又用指甲把手臂抓破了，停不下来"),
    ("moderate", "我真的很想去死，每天都在想"),
    ("moderate", "我有时候会拿头撞墙，撞到流血"),
    ("moderate", "我男朋友喝醉了会打我，还掐我胳膊"),
    ("moderate", "我每天都有想死的念头"),
    ("moderate", "最近又开始割自己了"),
    ("moderate", "我一直有種想自殺的衝動"),
    ("moderate", "我最近经常用拳头砸墙，手都破了"),
    ("moderate", "我妈喝醉了会拿东西砸我"),
    ("moderate", "总想着一死了之"),
    ("moderate", "我真的好想死，但是我不敢"),
    ("low", "活着没什么意思。"),
    ("low", "我朋友说她想死，我该怎么办？"),
    ("low", "以前自残过，现在好多了。"),
    ("low", "有时候希望自己从来没有出生。"),
    ("low", "我爸天天骂我是废物"),
    ("low", "有时候觉得活着好累，要是能一直睡下去就好了"),
    ("low", "我室友说她想自杀，我要告诉辅导员吗？"),
    ("low", "我表哥去年自杀未遂，我现在很担心他"),
    ("low", "如果我消失了，应该也没人会在意吧"),
    ("low", "我有时候觉得自己是个累赘，还不如消失"),
    ("low", "我初中的时候割过手，现在已经不会了"),
    ("low", "我男朋友说他活着没意思，我该怎么劝他？"),
    ("low", "有时候想，要是我没出生就好了"),
    ("low", "我姐姐上周说不想活了，我很担心她"),
    ("low", "有的时候希望自己就这么消失掉"),
    ("low", "我觉得我死了大家会更轻松"),
    ("low", "我同事说她想跳楼，我要不要告诉领导？"),
    ("low", "我以前试过自杀，那是十年前的事了，现在我过得很好"),
    ("low", "三年前我有过一次自杀的念头，后来去看了医生，现在完全没事了"),
    ("low", "我有时候觉得活着没意义，但是我不会做什么的"),
    ("none", "我明天出差，东西都准备好了，今晚就走。"),
    ("none", "我们婚礼的日子定好了，就在十月。"),
    ("none", "谢谢你陪我聊了这么久，我先走了，下周见。"),
    ("none", "我在桥上拍照，风景太美了。"),
    ("none", "我妈说我再不回家她就打死我哈哈"),
    ("none", "这道题难死我了"),
    ("none", "考完试感觉解脱了！"),
    ("none", "老板天天骂我，烦死了"),
    ("none", "他气得说要杀了我，哈哈，因为我把他的游戏存档删了"),
    ("none", "我在楼顶晒被子，今天天气真好"),
    ("none", "今天终于把论文交了，解脱了！"),
    ("none", "我要被这个项目累死了"),
    ("none", "我的猫死了，我哭了一整天。"),
    ("none", "xswl 我妹说她考试要挂了想跳楼"),
    ("none", "我绝对不会自杀，只是最近睡不好。"),
    ("none", "我今天在天台上晒太阳，心情还不错"),
    ("none", "我想死你们了！下周回国请大家吃饭"),
    ("none", "他说要杀了我，因为我吃了他的蛋糕哈哈"),
    ("none", "最近在追一部剧，女主角最后跳楼了，我哭死了"),
    ("none", "我的论文写的是青少年自杀风险评估"),
    ("none", "心理课老师说，有自杀念头的同学一定要求助"),
    ("none", "今天面试被虐惨了，想找个地缝钻进去"),
    ("none", "期末周熬夜熬得要死要活的"),
    ("none", "我快被我妈烦死了"),
    ("none", "这游戏我玩得想死，一直输"),
    ("none", "我奶奶上个月去世了，我很想她"),
    ("none", "看了篇报道说大学生自杀率在上升，好担心"),
    ("none", "我不会做傻事的，你放心"),
    ("none", "我准备明天去爬山，东西都准备好了"),
    ("none", "谢谢你这段时间的陪伴，我觉得我可以结束咨询了"),
    ("none", "我在楼顶的天台花园喝咖啡，风景很好"),
    ("none", "今天汇报的时候我尴尬得想死，哈哈"),
    ("none", "我朋友以前抑郁过，现在已经完全好了"),
    ("none", "这本小说里主角最后选择了自杀，我读完很难过"),
    ("none", "我不是想死，我只是需要休息"),
    ("none", "药剂师说这个药一天最多吃三次"),
    ("none", "我的游戏角色又被杀了，气死我了"),
    ("none", "考研成绩出来了，我要去跳楼了哈哈哈开玩笑的，考得还不错"),
    ("none", "我今天站在桥上看日落，好美"),
    ("none", "这次考试要是挂了我妈非杀了我不可"),
    ("none", "电视剧里那个角色跳河自杀了，好虐"),
    ("none", "我想死在你怀里（歌词）"),
    ("none", "加班到凌晨，我感觉自己快累死了"),
    ("none", "我在医院做护士，今天有个病人割腕被送进来"),
    ("none", "我发誓我不会自杀，请你别告诉我爸妈"),
    ("none", "今晚就走了，去北京出差三天，回来再聊"),
    ("none", "我最近压力有点大，但还撑得住"),
    ("none", "我的论文在研究大学生自伤行为"),
    ("none", "我姥姥去年去世了，今天是她的忌日"),
    ("none", "我累得要死，但项目终于完成了"),
    ("none", "这个剧里女主割腕的镜头太吓人了"),
    ("none", "我发誓这辈子都不会想不开的"),
    ("none", "楼顶的风景真好，下次带你来"),
    ("none", "我妈说再不找对象就打断我的腿哈哈"),
    ("none", "这部纪录片讲的是日本的自杀森林"),
    ("none", "今天跑了十公里，累死我了但很开心"),
    ("none", "我的朋友以前有自杀念头，现在她已经好了，还当了心理咨询师"),
    ("none", "我准备今晚把论文写完，材料都准备好了"),
    ("none", "我今天去医院拿了三个月的药"),
    ("none", "我朋友说她想死，因为她的猫把她的作业撕了，哈哈"),
    ("none", "剧里的男主最后跳海了，结局太虐了"),
    ("none", "我最近压力很大，但我不会伤害自己"),
    ("none", "我站在桥上等公交，风好大"),
    ("none", "最近工作太忙了，每天都加班到很晚。"),
    ("none", "我和男朋友分手了，心里空落落的。"),
    ("none", "我想换工作，但是又怕找不到更好的。"),
    ("none", "今晚就走了，回老家过年，东西都收拾好了。"),
    ("none", "我妈总是逼我相亲，烦得要命。"),
    ("none", "谢谢你一直以来的陪伴，我觉得我可以自己面对了。"),
    ("none", "我家猫又从阳台跳下去了，吓死我了"),
    ("none", "孩子不写作业，我真的要被气死了"),
    ("none", "我已经决定了，明天就去辞职"),
    ("none", "我站在天台上看烟花，好美啊"),
    ("none", "我最近迷上了一部讲自杀干预热线的纪录片"),
    ("none", "明天考试，该准备的都准备好了，希望能过"),
    ("none", "我把旧衣服都捐了，家里清爽多了"),
    ("none", "今天体检，医生说我的肝功能有点问题"),
    ("none", "我好想消失一个周末，去没人认识我的地方旅游"),
    ("none", "这个bug要把我逼疯了"),
    ("none", "我今天被老板骂惨了，想死的心都有了哈哈"),
    ("none", "我想死我家狗了，出差一周没见它"),
    ("none", "这次考砸了，我妈估计要打死我"),
    ("none", "我把遗书这本小说读完了，写得很好"),
]



@pytest.mark.parametrize(("level", "text"), WRITTEN_EN + WRITTEN_ZH)
def test_written_messages(check, level, text):
    assert screen(check, text).level == level


def test_written_messages_cover_every_level():
    for messages in (WRITTEN_EN, WRITTEN_ZH):
        assert {level for level, _ in messages} == set(RISK_LEVELS)
