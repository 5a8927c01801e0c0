"""The shipped licence list and SPDX expressions: approved families per asset kind, OR vs AND, and licence
texts recognised by their marker phrases."""

import pytest

from opendpg.dpg import judge_licence, licence_ids, licences
from opendpg.dpg.licences import matches_text

MIT_TEXT = """MIT License

Copyright (c) 2026 Open Health Lab

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction ...

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED ...
"""


def test_the_list_ships_with_the_package():
    known = licences()
    assert {"MIT", "Apache-2.0", "GPL-3.0-only", "CC-BY-4.0", "CC0-1.0", "ODbL-1.0"} <= set(known)
    assert known["CC-BY-NC-4.0"].families == ("restricted",)


@pytest.mark.parametrize(("expression", "families", "approved"), [
    ("MIT", ["osi"], True),
    ("Apache-2.0 WITH LLVM-exception", ["osi"], True),
    ("CC-BY-4.0", ["osi"], False),          # content licence for software
    ("ODbL-1.0", ["odc", "cc-open"], True),
    ("CC-BY-NC-4.0", ["odc", "cc-open"], False),
    ("MIT OR LicenseRef-Custom", ["osi"], True),   # one approved choice is enough
    ("MIT AND LicenseRef-Custom", ["osi"], False),  # every part must be approved
    ("(Apache-2.0 OR MIT) AND BSD-3-Clause", ["osi"], True),
])
def test_judge_licence(expression, families, approved):
    assert judge_licence(expression, families).approved is approved


def test_reasons_name_what_is_wrong():
    nc = judge_licence("CC-BY-NC-4.0", ["cc-open"])
    assert "NonCommercial: not an open licence" in nc.reasons[0]
    unknown = judge_licence("Proprietary-1.0", ["osi"])
    assert "not on the approved-licence list" in unknown.reasons[0]
    assert not judge_licence("MIT; rm -rf /", ["osi"]).approved


def test_licence_ids():
    assert licence_ids("(Apache-2.0 OR MIT) AND BSD-3-Clause") == ["Apache-2.0", "MIT", "BSD-3-Clause"]
    with pytest.raises(ValueError, match="not an SPDX licence expression"):
        licence_ids("MIT, Apache")


def test_licence_text_matches_by_marker_phrases():
    assert matches_text("MIT", MIT_TEXT)
    assert not matches_text("Apache-2.0", MIT_TEXT)
    assert not matches_text("LicenseRef-X", MIT_TEXT)
