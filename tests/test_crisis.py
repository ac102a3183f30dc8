"""Crisis resources: the shipped table, lookup by locale, the override file and its errors."""

from __future__ import annotations

import pytest

from psyagents.crisis import (
    ENV_VAR,
    SHIPPED_FILE,
    CrisisResource,
    crisis_resources,
    format_resources,
    load_resources,
    resources_for,
)
from psyagents.errors import DataFileError


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def contacts(locale: str) -> list[str]:
    return [r.contact for r in resources_for(locale)]


@pytest.mark.parametrize(
    ("locale", "contact"),
    [
        ("en-US", "988"),
        ("en-US", "text HOME to 741741"),
        ("en-GB", "116 123"),
        ("en-GB", "text SHOUT to 85258"),
        ("en-UK", "116 123"),
        ("en-IE", "116 123"),
        ("en-CA", "988"),
        ("fr-CA", "988"),
        ("en-AU", "13 11 14"),
        ("en-NZ", "1737"),
        ("en-IN", "14416"),
        ("en-ZA", "0800 567 567"),
        ("en-NG", "112"),
        ("en-SG", "1767"),
        ("zh-CN", "12356"),
        ("zh-CN", "010-82951332"),
        ("zh-TW", "1925"),
        ("zh-Hant-TW", "1925"),
        ("zh-HK", "2389 2222"),
        ("en_US", "988"),
        ("US", "988"),
        ("us", "988"),
    ],
)
def test_lookup_by_locale(locale, contact):
    assert contact in contacts(locale)


@pytest.mark.parametrize("locale", ["fr-FR", "de-DE", "xx-YY", "en", "", "not a locale!"])
def test_unknown_locales_fall_back_to_default(locale):
    assert contacts(locale) == contacts("default")
    assert "findahelpline.com" in contacts(locale)


def test_shipped_file_is_valid_and_dated():
    table = load_resources(SHIPPED_FILE)
    assert {"US", "GB", "UK", "IE", "CA", "AU", "NZ", "IN", "ZA", "NG", "SG", "CN", "TW", "HK", "default"} <= set(table)
    assert all(isinstance(r, CrisisResource) for entries in table.values() for r in entries)
    header = SHIPPED_FILE.read_text(encoding="utf-8").split("\n\n")[0]
    assert "2026-11" in header and "CHECK" in header.upper()


def test_override_adds_and_replaces_entries(tmp_path, monkeypatch):
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        "FR:\n"
        "  - name: 3114\n"
        "    contact: 3114\n"
        "    description: Numéro national de prévention du suicide\n"
        "US:\n"
        "  - name: Campus line\n"
        "    contact: 555-0100\n"
        "NO:\n"  # Norway, not YAML's false
        "  - {name: Mental Helse, contact: 116 123}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(ENV_VAR, str(extra))
    assert contacts("fr-FR") == ["3114"]
    assert contacts("en-US") == ["555-0100"]
    assert contacts("nb-NO") == ["116 123"]
    assert "12356" in contacts("zh-CN")  # the rest of the shipped table stays
    assert "FR" in crisis_resources()


def test_an_edited_override_file_is_read_again(tmp_path, monkeypatch):
    import os

    import psyagents.crisis as crisis

    extra = tmp_path / "extra.yaml"
    extra.write_text("US:\n  - {name: Campus line, contact: 555-0100}\n", encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(extra))
    reads = []
    real = crisis.load_resources
    monkeypatch.setattr(crisis, "load_resources", lambda path: reads.append(path) or real(path))
    assert contacts("en-US") == ["555-0100"] and contacts("en-US") == ["555-0100"]
    assert len(reads) == 1  # unchanged: parsed once
    extra.write_text("US:\n  - {name: Campus line, contact: 555-0199}\n", encoding="utf-8")
    st = extra.stat()
    os.utime(extra, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a distinct mtime even on coarse clocks
    assert contacts("en-US") == ["555-0199"] and len(reads) == 2
    extra.unlink()
    with pytest.raises(DataFileError, match="file not found"):
        contacts("en-US")


def test_empty_override_changes_nothing(tmp_path, monkeypatch):
    extra = tmp_path / "empty.yaml"
    extra.write_text("# nothing yet\n", encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(extra))
    assert "988" in contacts("en-US")


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("US:\n  - name: Line\n", "contact"),
        ("US:\n  - name: Line\n    contact: '1'\n    phone: '2'\n", "phone"),
        ("US:\n  - name: ''\n    contact: '1'\n", "name"),
        ("US: just a string\n", "US"),
        ("US: []\n", "US"),
        ("US:\n  - just a string\n", "US[0]"),
        ("- name: Line\n  contact: '1'\n", "mapping"),
        ("US: [unclosed\n", "YAML"),
        ("United States:\n  - {name: Line, contact: '1'}\n", "United States"),
    ],
)
def test_malformed_override_is_a_data_file_error(tmp_path, monkeypatch, content, named):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(bad))
    with pytest.raises(DataFileError) as info:
        resources_for("en-US")
    message = str(info.value)
    assert message.startswith(str(bad)), message
    assert named in message


def test_missing_override_file(tmp_path, monkeypatch):
    missing = tmp_path / "nope.yaml"
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(DataFileError, match="file not found") as info:
        format_resources("en-US", "en")
    assert str(info.value).startswith(str(missing))


def test_format_english_sentence():
    line = format_resources("en-US", "en")
    assert "988" in line and "text HOME to 741741" in line
    assert line.endswith(".") and line.count(". ") == 0 and "\n" not in line


def test_format_chinese_sentence():
    line = format_resources("zh-CN", "zh")
    assert "12356" in line and "010-82951332" in line and "全国心理援助热线" in line
    assert "请" in line and line.endswith("。")


def test_format_other_languages_fall_back_to_english():
    line = format_resources("fr-FR", "fr")
    assert line.startswith("If you") and "findahelpline.com" in line


def test_every_listed_contact_reaches_the_sentence():
    for locale in ["en-US", "en-GB", "zh-TW", "zh-HK", "en-NZ", "xx-XX"]:
        for language in ["en", "zh"]:
            line = format_resources(locale, language)
            assert all(r.contact in line for r in resources_for(locale)), (locale, language, line)
