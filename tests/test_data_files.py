"""Every shipped data file loads and validates; the persona set is as diverse as promised."""

from __future__ import annotations

from collections import Counter

import pytest

from psyagents.errors import DataFileError
from psyagents.registry import data_dir, get_persona, graph_specs, load_yaml_model, personas, principles
from psyagents.risk import at_least
from psyagents.specs import GraphSpec, Persona, Principle

PERSONA_FILES = sorted(data_dir("personas").glob("*.yaml"))


@pytest.mark.parametrize("path", PERSONA_FILES, ids=lambda p: p.stem)
def test_persona_file_is_valid(path):
    persona = load_yaml_model(path, Persona)
    assert persona.id == path.stem
    cc = persona.cognitive_conceptualization
    assert cc.core_beliefs and cc.intermediate_beliefs and cc.automatic_thoughts and cc.emotions and cc.behaviors
    assert persona.disclosures, "every persona keeps something back for later turns"
    if persona.risk.level != "none":
        assert persona.risk.notes, "a persona at risk says how the risk shows"


@pytest.mark.parametrize("path", sorted(data_dir("principles").glob("*.yaml")), ids=lambda p: p.stem)
def test_principle_file_is_valid(path):
    principle = load_yaml_model(path, Principle)
    assert {a.score for a in principle.anchors} == set(range(principle.scale_min, principle.scale_max + 1))


@pytest.mark.parametrize("path", sorted(data_dir("graphs").glob("*.yaml")), ids=lambda p: p.stem)
def test_graph_file_is_valid(path):
    spec = load_yaml_model(path, GraphSpec)
    from psyagents.graphs import validate

    validate(spec)


def test_persona_set_is_diverse():
    ps = list(personas().values())
    assert len(ps) >= 30
    ages = [p.age for p in ps]
    assert min(ages) <= 14 and max(ages) >= 80
    assert sum(at_least(p.risk.level, "moderate") for p in ps) >= 6
    assert sum(p.language == "zh" for p in ps) >= 6
    assert len({p.culture for p in ps}) >= 15
    assert {p.conversational_style for p in ps} == {"plain", "upset", "verbose", "reserved", "tangent", "pleasing"}
    assert {p.stage_of_change for p in ps} == {"precontemplation", "contemplation", "preparation", "action", "maintenance"}
    assert {p.risk.level for p in ps} == {"none", "low", "moderate", "high", "imminent"}
    cats = Counter(c for p in ps for c in p.problem_categories)
    for needed in ("anxiety", "depression", "grief", "relationships", "work-stress", "academic-stress", "trauma",
                   "substance-use", "insomnia", "loneliness", "identity", "parenting", "anger", "eating"):
        assert cats[needed] >= 1, needed


def test_psychocounsel_principles_are_shipped():
    ids = {p.id for p in principles().values() if "psychocounsel" in p.sets}
    assert ids == {"empathy", "relevance", "clarity", "safety", "exploration", "autonomy", "staging"}


def test_default_graph_has_the_required_nodes():
    spec = graph_specs()["default"]
    assert {n.type for n in spec.nodes.values()} >= {"client", "safety", "technique", "counselor", "end", "crisis"}


def test_malformed_yaml_names_the_file_and_line(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: Ann\nage: [1, 2\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"broken\.yaml: malformed YAML at line \d+"):
        get_persona(str(bad))


def test_invalid_field_is_named(tmp_path):
    src = PERSONA_FILES[0].read_text(encoding="utf-8")
    bad = tmp_path / "old.yaml"
    bad.write_text(src.replace("age:", "age: 200\nold_age:", 1), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"old\.yaml: field '(age|old_age)'"):
        get_persona(str(bad))


def test_unknown_field_is_rejected(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text(PERSONA_FILES[0].read_text(encoding="utf-8") + "\nfavourite_colour: blue\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="field 'favourite_colour': Extra inputs are not permitted"):
        get_persona(str(bad))


def test_id_must_match_file_name(tmp_path):
    bad = tmp_path / "right.yaml"
    bad.write_text("id: wrong\n" + PERSONA_FILES[0].read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(DataFileError, match="'wrong' differs from the file name 'right'"):
        get_persona(str(bad))


def test_unknown_persona_suggests_a_name():
    from psyagents.errors import NotFoundError

    with pytest.raises(NotFoundError, match="did you mean 'maya-exam-anxiety'"):
        get_persona("maya-exam-anxeity")
