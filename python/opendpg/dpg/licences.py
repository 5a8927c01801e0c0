"""The approved-licence list shipped with opendpg (SPDX identifiers, never fetched) and SPDX expressions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["Licence", "LicenceVerdict", "judge_licence", "licence_ids", "licences", "matches_text"]

_DATA = Path(__file__).parent / "data" / "licences.json"
_TOKEN = re.compile(r"\(|\)|[A-Za-z0-9.+:-]+")


@dataclass(frozen=True)
class Licence:
    spdx_id: str
    name: str
    families: tuple[str, ...]
    markers: tuple[str, ...]  # phrases every copy of the licence text contains
    why: str = ""  # for a known licence that is not open: why not


@cache
def licences() -> dict[str, Licence]:
    raw = json.loads(_DATA.read_text())["licences"]
    return {key: Licence(key, v["name"], tuple(v["families"]), tuple(v["markers"]), v.get("why", ""))
            for key, v in raw.items()}


def licence_ids(expression: str) -> list[str]:
    """The licence ids in an SPDX expression (``Apache-2.0 OR MIT``, ``(MIT AND BSD-3-Clause)``); ``WITH``
    exceptions are dropped. Raises ValueError for text that is not an expression."""
    tokens = _TOKEN.findall(expression)
    if not tokens or "".join(tokens) != re.sub(r"\s+", "", expression):
        raise ValueError(f"{expression!r} is not an SPDX licence expression")
    ids: list[str] = []
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
        elif token.upper() == "WITH":
            skip_next = True
        elif token.upper() not in ("AND", "OR", "(", ")"):
            ids.append(token)
    if not ids:
        raise ValueError(f"{expression!r} names no licence")
    return ids


@dataclass(frozen=True)
class LicenceVerdict:
    approved: bool
    reasons: list[str]


def judge_licence(expression: str, families: list[str]) -> LicenceVerdict:
    """Is ``expression`` approved when the licences of ``families`` are? ``A OR B`` needs one approved choice,
    ``A AND B`` (and any other combination) needs every licence approved."""
    try:
        ids = licence_ids(expression)
    except ValueError as exc:
        return LicenceVerdict(False, [str(exc)])
    known = licences()
    by_id = {key.lower(): lic for key, lic in known.items()}
    reasons, verdicts = [], []
    for spdx_id in ids:
        lic = by_id.get(spdx_id.lower())
        if lic is None:
            ok = False
            reasons.append(f"{spdx_id}: not on the approved-licence list (an SPDX id is needed; custom "
                           "LicenseRef-* licences go to human review outside the automated check)")
        elif not set(lic.families) & set(families):
            ok = False
            why = lic.why or f"a {'/'.join(lic.families)} licence, not one of {', '.join(families)}"
            reasons.append(f"{lic.spdx_id} ({lic.name}): {why}")
        else:
            ok = True
            shared = "/".join(sorted(set(lic.families) & set(families)))
            reasons.append(f"{lic.spdx_id} ({lic.name}): approved ({shared})")
        verdicts.append(ok)
    either = " OR " in f" {expression.upper()} " and " AND " not in f" {expression.upper()} "
    return LicenceVerdict(any(verdicts) if either else all(verdicts), reasons)


def matches_text(spdx_id: str, text: str) -> bool:
    """Does a licence file's text carry every marker phrase of ``spdx_id``? (whitespace and case folded)"""
    lic = licences().get(spdx_id)
    if lic is None or not lic.markers:
        return False
    folded = " ".join(text.split()).lower()
    return all(" ".join(marker.split()).lower() in folded for marker in lic.markers)
