"""Every work the book names is cited, every bibliography entry is used, every glossary link has its
term, and the corpus sizes the prose types agree with the corpora's own declarations.

The pages read here are the book's sources: the markdown cells of the chapter notebooks
(``notebooks/*.py``) and the prose pages (``book/*.md``, ``book/using/*.md``). Code cells and
fenced code blocks are not prose, and a name in them is not a mention.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import jupytext
import pytest
import yaml

from serlib.config import project_root

ROOT = project_root()
BIB = ROOT / "book" / "references.bib"
GLOSSARY = ROOT / "book" / "glossary.md"

CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
TERM = re.compile(r"\{term\}`([^`]+)`")
ROLE = re.compile(r"\{[a-z:]+\}`[^`]*`")
FENCE = re.compile(r"^(```|~~~)[^\n]*\n.*?^\1\s*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")

NAMED_WORKS: dict[str, tuple[str, ...]] = {
    r"Miyato": ("miyato2018projection",),
    r"Donahue|\bBiGAN\b": ("donahue2017bigan",),
    r"Dumoulin|\bALI\b": ("dumoulin2017ali",),
    r"Bao et al": ("bao2019cyclegan",),
    r"Tu et al": ("tu2019adversarial",),
    r"\bLi et al": ("li2020speaker",),
    r"\bAST\b": ("gong2021ast",),
    r"\bBERT\b": ("devlin2019bert",),
    r"MiniLM": ("wang2020minilm",),
    r"\bpYIN\b": ("mauch2014pyin",),
    r"\bYIN\b": ("decheveigne2002yin",),
    r"Hyperas": ("pumperla_hyperas",),
    r"Hyperopt": ("bergstra2013hyperopt",),
    r"\bTESS\b": ("dupuis2010tess",),
    r"RoBERTa": ("liu2019roberta",),
    r"wav2vec": ("baevski2020wav2vec",),
    r"Malik": ("malik2023diffusion",),
    r"emoDARTS": ("rajapakshe2024emodarts",),
    r"CIF-MMIN": ("liu2024cifmmin",),
    r"(?<!-)\bMMIN\b": ("zhao2021mmin",),
    r"\bCRA\b": ("tran2017cra",),
    r"\b[bs]c_LSTM\b": ("poria2017context",),
    r"Ashwin": ("ashwin2016hybrid",),
    r"Deb and Dandapat": ("deb2017vowel", "deb2018multiscale"),
    r"Elazar": ("elazar2018adversarial",),
    r"openSMILE": ("eyben2013opensmile",),
    r"Zhang et al": ("zhang2018mixup",),
    r"Berthelot": ("berthelot2017began",),
    r"Lin's": ("lin1989ccc",),
}
"""A pattern naming a work (or a system from it) -> the bibliography keys any one of which a page
that names it must cite."""


def markdown_of(path: Path) -> str:
    """The markdown a page contributes: a notebook's markdown cells, or a prose page's text."""
    if path.suffix == ".py":
        nb = jupytext.read(path)
        return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return path.read_text()


def prose_of(markdown: str) -> str:
    """Markdown without its fenced blocks, roles and inline code: the words a reader reads as text."""
    text = FENCE.sub("", markdown)
    text = ROLE.sub("", text)
    return INLINE_CODE.sub("", text)


@cache
def pages() -> dict[str, str]:
    """Every page of the book's sources -> its markdown (the glossary included)."""
    paths = sorted((ROOT / "notebooks").glob("*.py")) + sorted((ROOT / "book").glob("*.md")) + sorted(
        (ROOT / "book" / "using").glob("*.md"))
    return {p.relative_to(ROOT).as_posix(): markdown_of(p) for p in paths}


def cited_keys(markdown: str) -> set[str]:
    return {k.strip() for group in CITE.findall(markdown) for k in group.split(",")}


def bib_keys(text: str) -> list[str]:
    return re.findall(r"^@\w+\{([^,\s]+),", text, re.M)


def uncited_mentions(markdown: str) -> list[str]:
    """The named works a page mentions in its prose without citing any of their keys."""
    cited, prose = cited_keys(markdown), prose_of(markdown)
    return [pattern for pattern, keys in NAMED_WORKS.items()
            if re.search(pattern, prose) and not cited & set(keys)]


# --------------------------------------------------------------------------- citations
def test_every_citation_is_in_the_bibliography():
    known = set(bib_keys(BIB.read_text()))
    missing = {page: sorted(cited_keys(md) - known) for page, md in pages().items()}
    missing = {page: keys for page, keys in missing.items() if keys}
    assert not missing, f"cited but not in book/references.bib: {missing}"


def test_bibliography_keys_are_unique_and_every_entry_is_cited():
    keys = bib_keys(BIB.read_text())
    assert len(keys) > 20
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    cited = set().union(*(cited_keys(md) for md in pages().values()))
    assert not sorted(set(keys) - cited), "entries of book/references.bib that no page cites"


def test_the_mention_check_tells_a_cited_name_from_a_bare_one():
    assert uncited_mentions("A projection discriminator (Miyato & Koyama 2018).") == ["Miyato"]
    assert uncited_mentions("A projection discriminator {cite}`miyato2018projection`; Miyato showed it.") == []
    assert uncited_mentions("An encoder {cite:t}`li2020speaker` after Li et al.") == []
    # a name in code is not a mention; a cite of another work does not count
    assert uncited_mentions("```bash\nserbook run -p text_encoder=bert  # BERT\n```\nand `AST`") == []
    assert uncited_mentions("AST {cite}`devlin2019bert`") == [r"\bAST\b"]


def test_every_named_work_is_cited_on_each_page_that_names_it():
    problems = {page: uncited_mentions(md) for page, md in pages().items() if page != "book/glossary.md"}
    problems = {page: found for page, found in problems.items() if found}
    assert not problems, f"works named without a citation of them on the same page: {problems}"


# --------------------------------------------------------------------------- glossary
@cache
def glossary_terms() -> set[str]:
    """The terms defined in the ``{glossary}`` blocks of book/glossary.md."""
    terms: set[str] = set()
    for block in re.findall(r"^```\{glossary\}\n(.*?)^```", GLOSSARY.read_text(), re.S | re.M):
        terms |= {line.strip() for line in block.splitlines() if line.strip() and not line.startswith(" ")}
    return terms


def term_target(role_text: str) -> str:
    """``text <target>`` -> ``target``; a bare ``target`` -> itself."""
    found = re.fullmatch(r"(?s).*<([^<>]+)>\s*", role_text)
    return (found.group(1) if found else role_text).strip()


def test_glossary_is_in_the_back_matter_before_the_references():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    [back] = [part for part in toc["parts"] if part["caption"] == "Back matter"]
    files = [entry["file"] for entry in back["chapters"]]
    assert "book/glossary" in files and files.index("book/glossary") < files.index("book/references")
    assert {"UAR", "WA", "LOSO", "GRL", "AST", "TDNN", "pYIN", "Hyperas", "IS10", "eGeMAPS", "ComParE",
            "emobase2010", "MFCC", "GAN", "cGAN", "AAE", "InfoGAN", "BEGAN", "mixup", "mutual information",
            "SVM", "speaker-adaptive normalisation", "yardstick", "statistics pooling",
            "leave-two-speakers-out", "smoke profile", "λ (lambda)"} <= glossary_terms()


def test_every_term_link_has_its_glossary_entry():
    assert term_target("UAR") == "UAR" and term_target("the recall <UAR>") == "UAR"
    terms = glossary_terms()
    links = {page: {term_target(t) for t in TERM.findall(md)} for page, md in pages().items()}
    assert sum(len(v) for k, v in links.items() if k != "book/glossary.md") > 40, "the chapters link their jargon"
    for chapter in ("00_corpora", "01_sahu2018_gan", "02_latif2020_mixup_gan", "03_ahn_infogan",
                    "04_leow_speaker_adversarial", "05_pereira2018_began"):
        assert links[f"notebooks/{chapter}.py"], f"{chapter} links no term of the glossary"
    missing = {page: sorted(found - terms) for page, found in links.items() if found - terms}
    assert not missing, f"{{term}} links without a glossary entry in book/glossary.md: {missing}"


# --------------------------------------------------------------------------- corpus sizes
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
UNITS = {"h": "hours", "hours": "hours", "utterances": "utterances", "recordings": "utterances",
         "files": "utterances", "actors": "speakers", "actresses": "speakers", "speakers": "speakers",
         "sessions": "sessions", "emotions": "emotions"}
COUNT = re.compile(r"\b(\d[\d,]*|" + "|".join(NUMBER_WORDS) + r")\s+(?:[A-Za-z-]+\s+){0,2}?("
                   + "|".join(UNITS) + r")\b", re.I)


def counts_in(text: str) -> set[tuple[int, str]]:
    """The ``(number, unit)`` pairs a text types: "about 12 h" -> (12, "hours"), "ten actors" ->
    (10, "speakers"), "535 German utterances" -> (535, "utterances")."""
    out = set()
    for number, unit in COUNT.findall(text):
        n = NUMBER_WORDS.get(number.lower())
        out.add((n if n is not None else int(number.replace(",", "")), UNITS[unit.lower()]))
    return out


@cache
def declared() -> dict[str, set[tuple[int, str]]]:
    """Corpus name in the book -> the counts its loader declares (``SPEC.description``, and the
    total utterances and speakers of ``FULL_RELEASE``)."""
    from serlib.data import available_corpora
    from serlib.data.registry import _module

    out: dict[str, set[tuple[int, str]]] = {}
    for key, spec in available_corpora().items():
        if key == "embedded":
            continue
        counts = counts_in(spec.description)
        full = getattr(_module(key), "FULL_RELEASE", None)
        if isinstance(full, dict):
            for part in (full, *full.values()):
                if isinstance(part, dict) and isinstance(part.get("utterances"), int):
                    counts.add((part["utterances"], "utterances"))
                    if isinstance(part.get("per_speaker"), dict):
                        counts.add((len(part["per_speaker"]), "speakers"))
        out[spec.title.split(" (")[0]] = counts
    return out


def corpus_count_problems(text: str) -> list[str]:
    """Each count typed after a corpus's name (up to the next corpus name) that its declaration
    does not hold."""
    names = declared()
    mention = re.compile("(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?![-\w])")
    problems = []
    for sentence in re.split(r"(?<=[.|])\s|\n\n", text):
        hits = list(mention.finditer(sentence))
        for hit, nxt in zip(hits, hits[1:] + [None]):
            span = sentence[hit.end(): nxt.start() if nxt else len(sentence)]
            for n, unit in sorted(counts_in(span) - names[hit.group()]):
                problems.append(f"{hit.group()}: {n} {unit} (declared: {sorted(names[hit.group()])})")
    return problems


def test_the_count_check_reads_numbers_and_words():
    assert counts_in("about 12 h of sessions, 10 actors in 5 sessions") == {(12, "hours"), (10, "speakers"),
                                                                            (5, "sessions")}
    assert counts_in("holds about twelve hours of dialogue from ten actors") == {(12, "hours"), (10, "speakers")}
    assert counts_in("2800 English recordings, 2 female speakers") == {(2800, "utterances"), (2, "speakers")}
    assert corpus_count_problems("Emo-DB holds 535 German utterances by 10 actors.") == []
    assert corpus_count_problems("Emo-DB holds 536 German utterances by 10 actors.") == [
        f"Emo-DB: 536 utterances (declared: {sorted(declared()['Emo-DB'])})"]
    assert corpus_count_problems("IEMOCAP (about eleven hours) and SAVEE (480 utterances).")[0].startswith(
        "IEMOCAP: 11 hours")


@pytest.mark.parametrize("page", ["book/corpora.md", "book/intro.md"])
def test_corpus_sizes_typed_in_the_prose_match_the_loaders(page):
    text = prose_of((ROOT / page).read_text())
    assert counts_in(text), f"{page} types no corpus size: the check would be empty"
    problems = corpus_count_problems(text)
    assert not problems, f"{page} types sizes its loaders do not declare (serlib/data/<corpus>.py): {problems}"
