"""The HTML report in a real browser: headless Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it)
renders a report of real quick runs, and the DOM it builds is checked: every claim's section, no raw JSON and no
preformatted evidence (tables instead), formulas laid out as MathML, the counterexample's sentence, the filters and
the summary figure, and no horizontal overflow at 1280 px."""
import json
import shutil
import subprocess

import pytest
from conftest import shared_run

from ams_theory.claims import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.xdist_group("claims"),
              pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium), "
                                                          "which .ci/run installs; not found on this machine")]
IDS = ("cautious.2.4", "cautious.A2", "grams.C1", "grams.B3")      # refuted, conditional (proved), proved, refuted

PROBE = """<script>
window.addEventListener('load', () => {
  const seen = {
    sections: [...document.querySelectorAll('section.claim')].map(s => s.id),
    json_blocks: [...document.querySelectorAll('main pre, main code')].filter(p => !p.closest('details'))
      .filter(p => /^\s*[\[{]\s*"/.test(p.textContent)).length,
    preformatted: [...document.querySelectorAll('section.claim pre')].filter(p => !p.closest('details')).length,
    tables: document.querySelectorAll('section.claim .claim-view table').length,
    math: [...document.querySelectorAll('section.claim math')].filter(m => !m.closest('details')).length,
    math_laid_out: [...document.querySelectorAll('section.claim math')].filter(m => !m.closest('details'))
      .filter(m => getComputedStyle(m).display.includes('math') && m.getBoundingClientRect().height > 0).length,
    sentences: [...document.querySelectorAll('.counterexample p.sentence')].map(p => p.textContent)};
  const filter = document.querySelector("input.facet[value='refuted']");
  if (filter) { filter.checked = false; filter.dispatchEvent(new Event('change')); }
  const shown = [...document.querySelectorAll('section.claim')].filter(s => s.style.display !== 'none').length;
  const probe = document.createElement('pre'); probe.id = 'probe';
  probe.textContent = JSON.stringify({...seen,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    svg: document.querySelectorAll('svg.summary rect').length,
    proofs_open: [...document.querySelectorAll('details.proof')].filter(d => d.open).length,
    smtlib: [...document.querySelectorAll('details.proof pre')]
      .filter(p => p.textContent.startsWith('(set-logic')).length,
    shown_without_refuted: shown});
  document.body.appendChild(probe);
});
</script></body>"""


def _dom(page, tmp_path) -> dict:
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", PROBE), encoding="utf-8")
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                          "--virtual-time-budget=3000", "--dump-dom", path.as_uri()], capture_output=True, text=True,
                         timeout=120)
    start = out.stdout.index('<pre id="probe">') + len('<pre id="probe">')
    return json.loads(out.stdout[start:out.stdout.index("</pre>", start)].replace("&quot;", '"'))


def test_a_real_report_renders_in_chromium_without_json_or_overflow(tmp_path):
    runs = [shared_run(cid) for cid in IDS]
    doc = report.document(runs, "quick", 0, 0.0)
    doc["figures"] = []
    dom = _dom(report.html_page(doc), tmp_path)
    assert dom["sections"] == [f"claim-{cid.replace('.', '-')}" for cid in IDS]
    assert dom["json_blocks"] == 0 and dom["preformatted"] == 0 and dom["overflow"] <= 0 and dom["svg"] >= 2
    assert dom["tables"] > 20 and dom["math"] > 0 and dom["math_laid_out"] == dom["math"]
    assert any("the term" in s and "margin" in s for s in dom["sentences"])     # 2.4: why it fails, in one line
    assert dom["proofs_open"] == 0 and dom["smtlib"] > 0          # the proofs' cases, collapsed, SMT-LIB inside
    assert dom["shown_without_refuted"] == sum(r.verdict.word != "refuted" for r in runs)      # the filter works


def test_the_browser_checks_can_fail(tmp_path):
    """A planted JSON block, a 3000 px wide element, evidence as preformatted text and a formula that is not laid
    out are seen in the DOM."""
    doc = report.document([shared_run("grams.C1")], "quick", 0, 0.0)
    doc["figures"] = []
    page = report.html_page(doc).replace("</main>", "<pre>{\"a\": 1}</pre><div style='width:3000px'>x</div></main>")
    page = page.replace("<div class='claim-view'>", "<div class='claim-view'><pre>evidence as text</pre>"
                        "<math style='display:none'><mn>1</mn></math>", 1)
    dom = _dom(page, tmp_path)
    assert dom["json_blocks"] == 1 and dom["overflow"] > 1000 and dom["preformatted"] == 1
    assert dom["math_laid_out"] == dom["math"] - 1
