"""The language every student-facing sentence is written in: gettext catalogs, compiled by Babel.

One catalog (a gettext *domain*) per part of the kit, so that an assignment brings
its own translations with its hidden tests:

- ``grader``: the grader's own words (``grader/``, the feedback page);
- ``report``: the class report and the similar-code pages (``grader/report/``, ``grader/similarity/``);
- ``<assignment id>``: that assignment's hidden tests (``autograde_tests/test_<id>.py``), test titles
  (their docstrings' first line) included.

Source code writes English with named placeholders and marks it for extraction:

    from grader.i18n import _
    fail(_("{what}: expected shape {expected}, got {got}.", what=what, expected=..., got=...))

``_`` translates *when called*, into the language of the current run (``set_language``),
so a message is never translated at import time (mark module constants with ``N_`` and
translate them where they are used). Catalogs are the ``.po`` files in ``locale/<lang>/
LC_MESSAGES/<domain>.po`` beside their sources; they are compiled in memory with Babel on
first use, so there is no build step and no stale ``.mo`` file. ``python -m grader.i18n``
re-extracts and checks them (docs/translating.md).
"""
from __future__ import annotations

import gettext
import io
import threading
from functools import lru_cache
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
ENGLISH = "en"
LANGUAGES = ("en", "ko")
"""Languages with catalogs (English is the source language and needs none)."""

_state = threading.local()
_default_language = ENGLISH


def catalog_dir(domain: str) -> Path:
    """Where a domain's ``locale/`` folder lives: beside the code it translates (an assignment's: beside
    its hidden tests, as the course file places them)."""
    if domain in ("grader", "report"):
        return ROOT / "grader" / "locale"
    from grader.course import assignment
    return assignment(domain).tests.parent / "locale"


def catalog_path(domain: str, lang: str) -> Path:
    return catalog_dir(domain) / lang / "LC_MESSAGES" / f"{domain}.po"


def set_language(lang: str | None) -> None:
    """The language of this process's messages from now on (a grading run sets it once, in every worker)."""
    global _default_language
    lang = normalise(lang)
    _default_language = lang
    _state.lang = lang


def language() -> str:
    return getattr(_state, "lang", _default_language)


def normalise(lang: str | None) -> str:
    """``"ko_KR.UTF-8"`` -> ``"ko"``; ``None`` or ``""`` -> English. An unknown language is an error."""
    code = (lang or ENGLISH).split(".")[0].split("_")[0].split("-")[0].lower()
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return code


@lru_cache(maxsize=None)
def translations(domain: str, lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``domain`` in ``lang`` (English, or a missing catalog: the source text)."""
    if lang == ENGLISH:
        return gettext.NullTranslations()
    path = catalog_path(domain, lang)
    if not path.exists():
        return gettext.NullTranslations()
    # Babel compiles the .po in memory: nothing to build, nothing stale (a .po is a few hundred entries).
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def translate(domain: str, message: str, params: dict) -> str:
    text = translations(domain, language()).gettext(message) if message else message
    return text.format(**params) if params else text


def translate_plural(domain: str, singular: str, plural: str, n: int, params: dict) -> str:
    text = translations(domain, language()).ngettext(singular, plural, n)
    return text.format(n=n, **params)


def messages(domain: str) -> tuple[Callable[..., str], Callable[..., str]]:
    """``_, _n = messages("alexnet")``: the translate functions of one domain.

    ``_("text with {name}", name=value)`` and ``_n("one {n} test", "{n} tests", n, **params)``.
    Without keyword arguments the text is returned as translated, braces and all.
    """
    def _(message: str, /, **params) -> str:
        return translate(domain, message, params)

    def _n(singular: str, plural: str, n: int, /, **params) -> str:
        return translate_plural(domain, singular, plural, n, params)

    return _, _n


def N_(message: str) -> str:
    """Marks a module-level constant for extraction; translate it with ``_`` where it is shown."""
    return message


_, _n = messages("grader")
