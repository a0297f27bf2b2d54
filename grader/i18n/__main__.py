"""``python -m grader.i18n update [DOMAIN ...]`` re-extracts the messages into the catalogs;
``python -m grader.i18n check [DOMAIN ...]`` lists what is untranslated or has wrong placeholders."""
from __future__ import annotations

import argparse
import sys

from grader.i18n import LANGUAGES, ROOT
from grader.i18n.catalogs import check, domains, update


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.i18n", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["update", "check"])
    parser.add_argument("domain", nargs="*", help="grader, report or an assignment id (default: all)")
    parser.add_argument("--lang", action="append", choices=LANGUAGES[1:], help="default: every language")
    args = parser.parse_args(argv)
    langs = args.lang or list(LANGUAGES[1:])
    chosen = args.domain or domains()
    if args.action == "update":
        for domain in chosen:
            for lang in langs:
                print(f"updated {update(domain, lang).relative_to(ROOT)}")
        return 0
    found = check(langs, chosen)
    for problem in found:
        print(problem)
    print(f"{len(found)} problem(s) in {len(chosen)} domain(s)" if found else "every message is translated")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
