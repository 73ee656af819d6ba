"""Reading the one label a judge model was asked for out of what it actually replied.

Why shared: every rubric asks for one word from its own list, and every judge wraps it
("**Refused**.", "Label: vulnerable", "in scope — the settings are kept"); the rules for
reading it must be the same for all of them: a label right after a negation is no label,
and a reply that names two different labels is ambiguous (None, not a guess).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

# a label right after a negation in the same clause ("this is not a refusal", "isn't
# evasive", "no vendor switch") is no label; a negation elsewhere does not matter ("Evasive.
# The response does not answer"), nor one that answers a question or ends a clause before
# the label ("Is it vulnerable? No. Clean.", "Not vulnerable — clean", "No issues: clean").
_SAME_CLAUSE = r"[\s,*_'\"`]+"
_NEGATED_BEFORE = re.compile(
    rf"(?:\b(?:not|no|never|neither|nor)\b|n't\b){_SAME_CLAUSE}(?:\w+{_SAME_CLAUSE}){{0,2}}$"
)
# Bump when the reading of replies changes: part of a judge verdict's version, so stored
# verdicts are read again (the judge is asked again) under the new rules.
PARSER_VERSION = "2"


@cache
def _words(spellings: tuple[str, ...]) -> re.Pattern[str]:
    longest_first = sorted(spellings, key=len, reverse=True)  # "no-code" before "no"
    return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, longest_first)) + r")(?![\w-])")


def one_label(text: str, canon: Mapping[str, str]) -> str | None:
    """The label ``text`` names, by ``canon`` (spelling -> label), or None.

    The first line is read first ("refused\\n\\nWhy: it did not comply…" is refused), then the
    whole reply.
    """
    text = text.casefold().strip()
    pattern = _words(tuple(canon))
    first_line = text.split("\n", 1)[0]
    for chunk in (first_line, text):
        found = {
            canon[m.group(1)]
            for m in pattern.finditer(chunk)
            if not _NEGATED_BEFORE.search(chunk[max(0, m.start() - 40) : m.start()])
        }
        if len(found) == 1:
            return found.pop()
    return None
