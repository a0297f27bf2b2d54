"""Extract, update and check the translation catalogs with Babel (``python -m grader.i18n update|check``).

The check is what ``tests/test_i18n.py`` runs: every message marked in the sources
must have a translation in every catalog, and a translation must keep the English
placeholders (``{name}``, ``{value:g}``, ``%(n)s``) exactly, or ``str.format`` would fail
or put a number in the wrong place when a student reads it.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from grader.i18n import LANGUAGES, ROOT, catalog_path
from grader.i18n.extract import extract_hidden_tests

KEYWORDS = {"_": None, "_n": (1, 2), "N_": None, "gettext": None, "ngettext": (1, 2)}
JINJA = "jinja2.ext:babel_extract"
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true", "trimmed": "true"}
REPORT_TEMPLATES = ("summary.html", "report_")
OWN_PACKAGES = ("report", "similarity")
UNTRANSLATED_PACKAGES = ("i18n",)
"""``grader/i18n`` itself: its few messages are for the person running the tools, in English."""


@dataclass(frozen=True)
class Source:
    path: Path
    method: object  # a Babel extraction method: its name or the function


def domains() -> list[str]:
    from grader.course import assignment_ids
    return ["grader", "report", *assignment_ids()]


def sources(domain: str) -> list[Source]:
    """The files whose messages belong to ``domain``."""
    grader = ROOT / "grader"
    templates = sorted((grader / "templates").glob("*.html"))
    if domain in ("grader", "report"):
        python = [p for p in sorted(grader.rglob("*.py")) if "__pycache__" not in p.parts]
        in_report = lambda p: p.relative_to(grader).parts[0] in OWN_PACKAGES  # noqa: E731
        skipped = lambda p: p.relative_to(grader).parts[0] in UNTRANSLATED_PACKAGES  # noqa: E731
        is_report_page = lambda p: p.name.startswith(REPORT_TEMPLATES)  # noqa: E731
        want = domain == "report"
        return ([Source(p, "python") for p in python if not skipped(p) and in_report(p) == want]
                + [Source(p, JINJA) for p in templates if is_report_page(p) == want])
    from grader.course import assignment
    return [Source(assignment(domain).tests, extract_hidden_tests)]


def extract(domain: str) -> Catalog:
    """The domain's messages as they are in the sources now (Babel's extraction, our docstring method)."""
    catalog = Catalog(domain=domain, project="modern-cnn-kit", charset="utf-8")
    for source in sources(domain):
        options = JINJA_OPTIONS if source.method == JINJA else {}
        for lineno, message, comments, context in extract_from_file(
                source.method, str(source.path), keywords=KEYWORDS, options=options):
            catalog.add(message, None, [(str(source.path.relative_to(ROOT)), lineno)],
                        auto_comments=comments, context=context)
    return catalog


def load(domain: str, lang: str) -> Catalog | None:
    path = catalog_path(domain, lang)
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=lang, domain=domain)


def update(domain: str, lang: str) -> Path:
    """Merge the freshly extracted messages into ``lang``'s catalog: new ones appear untranslated, gone ones
    are dropped, translations of unchanged messages are kept (Babel's ``Catalog.update``)."""
    template = extract(domain)
    catalog = load(domain, lang) or Catalog(
        locale=lang, domain=domain, project="modern-cnn-kit", fuzzy=False,
        header_comment=f"# The {domain} messages in {lang}. Source text: English, in the code.\n"
                       "# Update: python -m grader.i18n update; check: python -m grader.i18n check.")
    catalog.update(template, no_fuzzy_matching=True)
    path = catalog_path(domain, lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=110, ignore_obsolete=True, include_previous=False)
    return path


_PERCENT = re.compile(r"%\((\w+)\)[#0\- +]?\d*(?:\.\d+)?[sdifgr]")


def placeholders(text: str) -> Counter:
    """``{name}``/``{value:g}``/``{!r}`` fields and ``%(name)s`` fields, each with its format, counted."""
    found: Counter = Counter(_PERCENT.findall(text))
    try:
        for _, field, spec, conversion in string.Formatter().parse(text):
            if field is not None:
                found[f"{{{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"] += 1
    except ValueError:   # not a format string: its braces are text, and must be kept as they are
        found.update(ch for ch in text if ch in "{}")
    return found


def ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def problems(domain: str, lang: str) -> list[str]:
    """Every way ``lang``'s catalog of ``domain`` falls short of the sources; empty when it is complete."""
    template = extract(domain)
    catalog = load(domain, lang)
    where = catalog_path(domain, lang).relative_to(ROOT)
    if catalog is None:
        return [f"{where}: missing ({len(template)} messages to translate; run `python -m grader.i18n update`)"]
    found = []
    for message in template:
        if not message.id:
            continue
        translated = catalog.get(message.id, context=message.context)
        origin = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
        first = ids(message)[0]
        if translated is None or not any(translated.string if isinstance(translated.string, tuple)
                                         else (translated.string,)):
            found.append(f"{where}: no translation for {first!r} ({origin})")
            continue
        if translated.fuzzy:
            found.append(f"{where}: fuzzy (unchecked) translation for {first!r} ({origin})")
        strings = translated.string if isinstance(translated.string, tuple) else (translated.string,)
        for text in strings:
            expected = placeholders(ids(message)[-1]) | placeholders(first)
            if placeholders(text) != placeholders(first) and placeholders(text) != expected:
                found.append(f"{where}: placeholders differ for {first!r} ({origin}): English has "
                             f"{sorted(placeholders(first).elements())}, the translation "
                             f"{sorted(placeholders(text).elements())}")
    return found


def check(langs: Iterable[str] = LANGUAGES[1:], only: Iterable[str] | None = None) -> list[str]:
    return [p for domain in (only or domains()) for lang in langs for p in problems(domain, lang)]
