"""Splitting an answer into claims, the units a groundedness judge checks one at a time.

The rule: a claim is a sentence. A sentence ends at `.`, `!` or `?` followed by white space, or
at a line break (list items are claims of their own); a full stop inside a number ("$1,250.50"),
an abbreviation followed by a lower-case word ("e.g. the") or a single capital's initial does
not end one. List markers ("-", "*", "1.") are stripped. A piece with no content word (an
"OK." or "Yes.") is not a claim.
"""

from __future__ import annotations

import re

from harness.metrics.retrieval import content_tokens

# A sentence break: end punctuation, white space, then no lower-case letter (so "e.g. the" and
# "approx. five" stay whole), and not after a lone capital initial ("J. Smith").
_BREAK = re.compile(r"(?<!\b[A-Z]\.)(?<=[.!?])\s+(?=[^a-z\s])")
_MARKER = re.compile(r"^\s*(?:[-*\u2022]|\d{1,3}[.)])\s+")


def split_claims(text: str) -> list[str]:
    """The answer's claims, in order (see the module's rule)."""
    claims = []
    for line in text.splitlines():
        line = _MARKER.sub("", line).strip()
        for piece in _BREAK.split(line):
            piece = piece.strip()
            if piece and content_tokens(piece):
                claims.append(piece)
    return claims
