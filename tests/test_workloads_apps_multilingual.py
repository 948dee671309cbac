"""multilingual: the shipped parallel text, its byte and character counts, the parity ratio."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench_workloads import multilingual as ml

DATA = Path(ml.__file__).parent / "data" / ml.DATA_FILE


def _raw() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _utf8_length(text: str) -> int:
    """Bytes per code point from the UTF-8 ranges (RFC 3629), without calling encode()."""
    return sum(1 if ord(c) < 0x80 else 2 if ord(c) < 0x800 else 3 if ord(c) < 0x10000 else 4
               for c in text)


def _code_points(text: str) -> int:
    count = 0
    for _ in iter(text):
        count += 1
    return count


def test_text_loads_with_every_language_and_script() -> None:
    raw = _raw()
    text = ml.load_parallel_text()
    assert set(text) == set(ml.LANGUAGES) == set(raw["languages"])
    scripts = {raw["languages"][code]["script"] for code in ml.LANGUAGES}
    assert len(ml.LANGUAGES) >= 10 and len(scripts) >= 10
    assert {"Latin", "Cyrillic", "Greek", "Arabic", "Devanagari", "Han", "Thai"} <= scripts
    assert raw["license"] == "CC0-1.0"
    sizes = {len(sentences) for sentences in text.values()}
    assert sizes == {len(raw["sentences"])} and 20 <= len(raw["sentences"]) <= 50
    for sentences in text.values():
        for s in sentences:
            assert s and s == s.strip() and unicodedata.normalize("NFC", s) == s


def test_each_language_counts_match_an_independent_count() -> None:
    raw = _raw()
    for code in ml.LANGUAGES:
        sentences = [row[code] for row in raw["sentences"]]
        expected = {"sentences": len(sentences),
                    "chars": sum(_code_points(s) for s in sentences),
                    "bytes": sum(_utf8_length(s) for s in sentences)}
        assert ml.text_counts(code) == expected, code


def test_known_sentences_have_hand_counted_lengths() -> None:
    first = {code: sentences[0] for code, sentences in ml.load_parallel_text().items()}
    assert first["en"] == "The sun rises early in summer."
    assert (len(first["en"]), len(first["en"].encode())) == (30, 30)  # ASCII: 1 byte each
    assert first["zh"] == "夏天太阳升起得很早。"
    assert ml.encode(first["zh"], "char")[1:] != ml.encode(first["zh"], "byte")[1:]
    assert len(ml.encode(first["zh"], "char")) == 1 + 10  # BOS + 10 Han characters
    assert len(ml.encode(first["zh"], "byte")) == 1 + 30  # 3 bytes per Han character
    ru = "Летом солнце встаёт рано."  # 21 Cyrillic letters (2 bytes), 3 spaces and a full stop
    assert first["ru"] == ru and len(ml.encode(ru, "byte")) == 1 + 21 * 2 + 4


def test_the_model_reads_exactly_the_counted_tokens() -> None:
    for code in ml.LANGUAGES:
        counts = ml.text_counts(code)
        sentences = ml.load_parallel_text()[code]
        for tokenizer, key in (("byte", "bytes"), ("char", "chars")):
            tokens = [ml.encode(s, tokenizer) for s in sentences]
            assert sum(len(t) for t in tokens) == counts[key] + counts["sentences"]
            assert max(max(t) for t in tokens) < ml.vocabulary_size(tokenizer)


def test_language_parity_is_highest_over_lowest() -> None:
    assert ml.language_parity({"en": 2.0, "th": 5.0, "zh": 1.0}) == pytest.approx(5.0)
    assert ml.language_parity({"en": 3.0, "de": 3.0}) == 1.0
    with pytest.raises(ValueError, match="at least two"):
        ml.language_parity({"en": 1.0})
    with pytest.raises(ValueError, match="positive"):
        ml.language_parity({"en": 1.0, "th": 0.0})


def test_unknown_language_code_is_one_clear_line_before_any_work() -> None:
    wl = ml.Multilingual()
    with pytest.raises(UserError, match="unknown language code 'xx'") as err:
        wl.check({**wl.defaults(), "language": "xx"}, "cpu")
    assert "\n" not in str(err.value)


def test_step_scores_every_sentence_and_byte_costs_more_tokens_in_thai() -> None:
    pytest.importorskip("torch")
    wl = ml.Multilingual()
    small = {**wl.defaults(), "d_model": 16, "heads": 2, "layers": 1}
    per_language = {}
    for code in ("en", "th"):
        params = {**small, "language": code, "batch": 4}
        state = wl.setup(params, "cpu")
        wl.step(state)
        assert state["nll"] > 0
        per_language[code] = wl.metrics(state)
        assert wl.units_per_step(params) == ml.text_counts(code)["sentences"]
    assert per_language["th"]["tokens_per_sentence"] > 2 * per_language["en"]["tokens_per_sentence"]
    # the same weights for every language: sizes depend on the tokenizer only
    a = wl.setup({**small, "language": "en"}, "cpu")["model"]
    b = wl.setup({**small, "language": "th"}, "cpu")["model"]
    assert all(x.equal(y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
