"""Which CPU this is, and its TDP from CodeCarbon's table of about 4,900 models.

The table is CodeCarbon's ``data/hardware/cpu_power.csv`` (columns ``Name,TDP``; TDP in watts per
chip). It is found through ``importlib.util.find_spec`` and read with :mod:`csv`, so importing
this module never imports CodeCarbon (slow, heavy); the file is read on first use and cached.

Matching a model string such as ``Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz`` to a table name
such as ``Intel Xeon Gold 6248`` goes in three steps, each stricter than a string-similarity
score:

1. ``exact``: the string equals a table name;
2. ``normalised``: equal after :func:`normalise_cpu_name` (drops ``(R)``, ``(TM)``, ``CPU``,
   ``Processor``, ``@ 2.50GHz``, ``64-Core``, case and extra spaces);
3. ``fuzzy``: the same *model numbers* (every word with a digit: ``6248``, ``e5-2680``, ``v4``,
   ``5950x``) and no other difference than brand words (``AMD``, ``Xeon``...) one side leaves
   out, or an integrated-graphics tail (``with Radeon Graphics``).

A bare ``AMD EPYC`` (what many VMs show) has no model number and so matches nothing: a wrong TDP
would be worse than the honest per-thread fallback the caller then uses. Several table rows
that fit equally well with different TDPs (``AMD Opteron 250`` 85 W and ``... 250 HE`` 55 W)
are no match either.
"""

from __future__ import annotations

import csv
import functools
import importlib.metadata
import importlib.util
import platform
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

CPUINFO_PATH = Path("/proc/cpuinfo")

#: how a model string matched a table name, from most to least certain
MatchKind = Literal["exact", "normalised", "fuzzy"]


@dataclass(frozen=True)
class TdpMatch:
    """A table row found for a CPU model string."""

    #: the ``Name`` column of the matched row, e.g. ``Intel Xeon Gold 6248``
    table_name: str
    #: the row's TDP, watts per chip (socket)
    tdp_w: float
    how: MatchKind


class TdpEntry(NamedTuple):
    name: str
    #: watts per chip
    tdp_w: float


class TdpTable:
    """Rows of ``Name,TDP``, indexed lazily: only rows that can match a model are normalised.

    Normalising all ~4,900 names costs more than the rest of starting a meter, so a lookup
    first keeps the rows whose lower-cased name contains the model's number tokens (or, with
    none, all its words): normalisation only removes text and lowers case, so no other ASCII
    row can normalise to the same key or share its numbers. Non-ASCII rows are always kept.
    """

    def __init__(self, entries: Iterable[TdpEntry], source: str = "", skipped_rows: int = 0):
        self.entries: tuple[TdpEntry, ...] = tuple(entries)
        #: where the rows came from, for the record (path and CodeCarbon version)
        self.source = source
        #: rows left out because their TDP was not a positive number (the CSV has a few)
        self.skipped_rows = skipped_rows
        self._by_name = {e.name.strip(): e for e in self.entries}
        self._lower = [(e, e.name.lower(), e.name.isascii()) for e in self.entries]
        self._keys: dict[TdpEntry, tuple[str, frozenset[str], frozenset[str]]] = {}

    def candidates(self, needles: Iterable[str]) -> list[tuple[TdpEntry, str, frozenset[str],
                                                                frozenset[str]]]:
        """(entry, normalised key, number tokens, other words) of the rows that contain every
        needle, or are not ASCII."""
        wanted = list(needles)
        found = []
        for entry, lower, ascii_only in self._lower:
            if ascii_only and not all(n in lower for n in wanted):
                continue
            if entry not in self._keys:
                key = normalise_cpu_name(entry.name)
                self._keys[entry] = (key, *_split_tokens(_strip_graphics_tail(key)))
            found.append((entry, *self._keys[entry]))
        return found

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, float]], source: str = "") -> TdpTable:
        return cls((TdpEntry(name, float(tdp)) for name, tdp in rows), source=source)

    def __len__(self) -> int:
        return len(self.entries)


def cpu_model_name(cpuinfo_path: Path = CPUINFO_PATH) -> str:
    """The CPU's model string as the OS reports it, e.g. ``AMD EPYC 7763 64-Core Processor``.

    From the first ``model name`` line of ``/proc/cpuinfo``, else ``platform.processor()``
    (macOS, Windows, and ARM Linux whose cpuinfo has no model name); ``""`` when neither knows.
    """
    for line in _cpuinfo_lines(cpuinfo_path):
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return platform.processor().strip()


def cpu_socket_count(cpuinfo_path: Path = CPUINFO_PATH) -> int:
    """Number of CPU packages (sockets): distinct ``physical id`` values, at least 1."""
    ids = {
        value.strip()
        for key, _, value in (line.partition(":") for line in _cpuinfo_lines(cpuinfo_path))
        if key.strip() == "physical id"
    }
    return max(1, len(ids))


def running_under_hypervisor(cpuinfo_path: Path = CPUINFO_PATH) -> bool:
    """True when the CPU flags include ``hypervisor`` (x86 guests: VMs, most cloud instances)."""
    for line in _cpuinfo_lines(cpuinfo_path):
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return "hypervisor" in value.split()
    return False


def codecarbon_table_path() -> Path | None:
    """Where CodeCarbon's ``cpu_power.csv`` is, without importing CodeCarbon; None if absent."""
    try:
        spec = importlib.util.find_spec("codecarbon")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / "hardware" / "cpu_power.csv"
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=1)
def load_cpu_power_table() -> TdpTable | None:
    """CodeCarbon's CPU table, read once and cached; None when CodeCarbon is not installed."""
    path = codecarbon_table_path()
    if path is None:
        return None
    return read_cpu_power_csv(path, source=f"codecarbon {_codecarbon_version()}: {path}")


def read_cpu_power_csv(path: Path, source: str = "") -> TdpTable:
    """Read a ``Name,TDP`` CSV. Rows whose TDP is not a positive number are skipped and counted
    (CodeCarbon's has ``27.29.5`` for some old Celerons and ``0.0`` for a microcontroller)."""
    entries: list[TdpEntry] = []
    skipped = 0
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name = (row.get("Name") or "").strip()
            try:
                tdp_w = float(row.get("TDP") or "")
            except ValueError:
                skipped += 1
                continue
            if not name or not tdp_w > 0:
                skipped += 1
                continue
            entries.append(TdpEntry(name, tdp_w))
    return TdpTable(entries, source=source or str(path), skipped_rows=skipped)


def lookup_tdp(model: str, table: TdpTable | None = None) -> TdpMatch | None:
    """The table row for a CPU model string, or None when no row fits with certainty.

    ``table`` defaults to CodeCarbon's (None also when CodeCarbon is not installed). See the
    module docstring for the three kinds of match; the first that finds a row decides.
    """
    if table is None:
        table = load_cpu_power_table()
        if table is None:
            return None
    model = model.strip()
    if not model:
        return None

    entry = table._by_name.get(model)
    if entry is not None:
        return TdpMatch(entry.name, entry.tdp_w, "exact")

    key = normalise_cpu_name(model)
    numbers, words = _split_tokens(_strip_graphics_tail(key))
    rows = table.candidates(numbers or key.split())
    same = [entry for entry, e_key, _, _ in rows if e_key == key]
    if same:
        # e.g. "AMD Phenom II X4 945 (125W)" and "(95W)" normalise alike: which one is unknown
        return _unanimous(same, "normalised")
    if not numbers:
        # nothing identifies the model ("AMD EPYC", "Intel Xeon"): any row would be a guess
        return None
    candidates = [
        (entry, e_words)
        for entry, _, e_numbers, e_words in rows
        if e_numbers and e_numbers == numbers and _differ_only_by_brand_words(words, e_words)
    ]
    if not candidates:
        return None
    # put the row sharing the most words first, so the record names the closest one
    candidates.sort(key=lambda c: -len(c[1] & words))
    return _unanimous([entry for entry, _ in candidates], "fuzzy")


def normalise_cpu_name(name: str) -> str:
    """Lower-case model string without trademarks, clock, core count or filler words.

    ``Intel(R) Xeon(R) CPU E5-2680 0 @ 2.70GHz`` -> ``intel xeon e5-2680``;
    ``AMD EPYC 7763 64-Core Processor`` -> ``amd epyc 7763``.
    """
    s = name
    if not s.isascii():  # most names are; skipping them keeps loading the table cheap
        s = unicodedata.normalize("NFKC", s)  # the table has no-break spaces in some names
        s = "".join(c for c in s if unicodedata.category(c) != "Cf")  # and zero-width spaces
    s = _TRADEMARKS.sub(" ", s)
    s = _CLOCK.sub(" ", s)
    s = _PARENTHESES.sub(" ", s)  # "(OEM Only)", "(125W)" in table names
    s = _GENERATION.sub(" ", s)
    s = _CORE_COUNT.sub(" ", s)
    s = _FILLER.sub(" ", s)
    # Sandy Bridge Xeons print their first version as a lone "0": "E5-2680 0 @ 2.70GHz"
    return " ".join(t for t in s.lower().split() if t != "0")


_TRADEMARKS = re.compile(r"\((?:R|TM|C)\)|[®™©]", re.IGNORECASE)
_CLOCK = re.compile(r"@?\s*\d+(?:\.\d+)?\s*[GM]Hz\b", re.IGNORECASE)
_PARENTHESES = re.compile(r"\([^)]*\)")
_GENERATION = re.compile(r"\b\d+(?:st|nd|rd|th)\s+Gen\b", re.IGNORECASE)
_CORE_COUNT = re.compile(
    r"\b(?:\d+|dual|triple|quad|six|eight|ten|twelve|sixteen)-cores?\b", re.IGNORECASE
)
_FILLER = re.compile(r"\b(?:cpu|processor)\b", re.IGNORECASE)
_GRAPHICS_TAIL = re.compile(r"\s(?:with|w/)\s+radeon\b.*$")

#: words that name a vendor or product line: present on one side only, they change no TDP
#: ("AMD Opteron 6272" and the table's bare "6272" are the same chip)
_BRAND_WORDS = frozenset(
    {
        *("amd", "epyc", "opteron", "ryzen", "threadripper", "athlon", "phenom", "turion"),
        *("sempron", "intel", "xeon", "core", "pentium", "celeron", "atom", "apple", "arm"),
    }
)


def _strip_graphics_tail(key: str) -> str:
    """Drop an APU's graphics tail: ``... 7840u w/ radeon 780m graphics`` names no CPU part."""
    return _GRAPHICS_TAIL.sub("", key)


def _split_tokens(key: str) -> tuple[frozenset[str], frozenset[str]]:
    """(model numbers: words with a digit, other words) of a normalised name."""
    tokens = key.split()
    numbers = frozenset(t for t in tokens if _DIGIT.search(t))
    return numbers, frozenset(tokens) - numbers


_DIGIT = re.compile(r"\d")


def _differ_only_by_brand_words(a: frozenset[str], b: frozenset[str]) -> bool:
    """One word set contains the other and the extra words are brand words.

    Extra words such as ``HE``, ``EE``, ``Mobile`` or ``ULV`` mark a variant with another TDP,
    and two different product lines (``Xeon`` vs ``Pentium``) are two chips: neither matches.
    """
    if not (a <= b or b <= a):
        return False
    return (a ^ b) <= _BRAND_WORDS


def _unanimous(entries: list[TdpEntry], how: MatchKind) -> TdpMatch | None:
    """The first entry when all agree on the TDP; None when they disagree."""
    if len({e.tdp_w for e in entries}) != 1:
        return None
    return TdpMatch(entries[0].name, entries[0].tdp_w, how)


def _cpuinfo_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _codecarbon_version() -> str:
    try:
        return importlib.metadata.version("codecarbon")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"
