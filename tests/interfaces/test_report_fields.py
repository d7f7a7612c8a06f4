"""Where the HTML report's values come from: the report's JSON alone (docs/report-schema.md).

Three checks on real quick runs: the page rendered from the JSON read back from disk is the same page (nothing
else is read); every value of a claim's JSON outside its proofs is shown (a marker planted in it appears in the
claim's section); and every number a claim's section shows in its tables is one of the JSON's values, exactly or
as its float beside it (nothing is computed that the JSON does not hold)."""
import json
import re
from html.parser import HTMLParser

import pytest
from conftest import shared_run

from ams_theory.claims import report
from ams_theory.claims.views import claim_html

pytestmark = pytest.mark.xdist_group("claims")
IDS = ("cautious.2.4", "grams.C1", "cautious.A2")        # refuted with repairs, proved, conditional
MARK = "zq"


def _leaves(value, path=()):
    """``[(path, leaf)]`` of a JSON value, proofs left out (their cases have a table of their own)."""
    if isinstance(value, dict):
        return [x for k, v in value.items() if k not in ("proof",) for x in _leaves(v, path + (k,))]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _leaves(v, path + (i,))]
    return [(path, value)]


def _set(value, path, new):
    if len(path) == 1:
        value[path[0]] = new
        return
    _set(value[path[0]], path[1:], new)


class _Cells(HTMLParser):
    """The text of every table cell (``td``) outside MathML and collapsed details."""

    def __init__(self):
        super().__init__()
        self.cells, self._depth, self._skip, self._text = [], 0, 0, None

    def handle_starttag(self, tag, attrs):
        if tag in ("math", "details"):
            self._skip += 1
        elif tag == "td" and not self._skip:
            self._text = []

    def handle_endtag(self, tag):
        if tag in ("math", "details"):
            self._skip -= 1
        elif tag == "td" and self._text is not None:
            self.cells.append("".join(self._text).strip())
            self._text = None

    def handle_data(self, data):
        if self._text is not None and not self._skip:
            self._text.append(data)


def _numbers_of(value) -> set:
    """Every way the rendering may write a JSON number or exact number: as it is, with separators, to 3 digits."""
    out = set()
    for _, leaf in _leaves(value):
        if isinstance(leaf, bool) or leaf is None:
            continue
        out.add(str(leaf))
        if isinstance(leaf, (int, float)):
            from ams_theory.claims.views import _num
            out.add(_num(leaf))
    return out


def test_the_page_reads_the_json_alone(tmp_path):
    doc = report.document([shared_run(cid) for cid in IDS], "quick", 0, 0.0)
    doc["figures"] = []
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    assert report.html_page(json.loads(path.read_text())) == report.html_page(doc)
    assert report.markdown(json.loads(path.read_text())) == report.markdown(doc)


@pytest.mark.parametrize("cid", IDS)
def test_every_field_of_a_claim_is_shown(cid):
    claim = shared_run(cid).to_json()
    hidden = []
    for k, (path, leaf) in enumerate(_leaves(claim)):
        if isinstance(leaf, bool) or leaf is None or path[-1] in ("id",):
            continue
        marker = f"{MARK}{k}{MARK}"
        planted = json.loads(json.dumps(claim))
        _set(planted, path, marker)
        if marker not in claim_html(planted):
            hidden.append(path)
    assert not hidden, f"fields of {cid} the HTML does not show: {hidden[:10]}"


@pytest.mark.parametrize("cid", IDS)
def test_every_number_in_a_claims_tables_comes_from_its_json(cid):
    claim = shared_run(cid).to_json()
    allowed = _numbers_of(claim) | {str(k) for k in range(1, 200)}          # rank and item numbers
    parser = _Cells()
    parser.feed(claim_html(claim))
    assert parser.cells, "no table cells"
    foreign = []
    for cell in parser.cells:
        cell = re.sub(r"\s*\(≈ [^)]*\)$", "", cell)                       # the float beside an exact number
        if re.fullmatch(r"-?[\d,./]+(?:e[-+]?\d+)?", cell) and cell not in allowed:
            foreign.append(cell)
    assert not foreign, f"numbers shown for {cid} that its JSON does not hold: {foreign[:10]}"


def test_the_field_checks_can_fail(monkeypatch):
    """A rendering that drops the counterexample's source, or writes a number of its own, is caught."""
    from ams_theory.claims import views

    claim = shared_run("cautious.2.4").to_json()
    planted = json.loads(json.dumps(claim))
    planted["counterexample"]["source"] = f"{MARK}source{MARK}"
    original = views._fields

    def drop_source(d, exact=False):
        return original({k: v for k, v in d.items() if k != "source"}, exact)
    monkeypatch.setattr(views, "_fields", drop_source)
    assert f"{MARK}source{MARK}" not in claim_html(planted)
    monkeypatch.setattr(views, "_fields", lambda d, exact=False: original({**d, "invented": 31337}, exact))
    parser = _Cells()
    parser.feed(claim_html(claim))
    assert "31,337" in parser.cells and "31,337" not in _numbers_of(claim)
