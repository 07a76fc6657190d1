"""The report in a real browser (headless Chromium): every chart renders (plotly's SVG in the
DOM), no console error, the page's totals equal the library's, editing a price updates the
totals to what the library computes for that price, and a 1,000-title report renders whole and
weighs < 5 MB. Its render time (the issue's target: < 3 s) is printed with ``-s`` and written to
``measured.json``, never asserted: timings on a shared machine are figures to report, not a
test. Each test writes a screenshot beside its report."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

from ladderforge.dashboard import compare_folders, comparison_tables, write_report

CHARTS = (
    "lf-chart-totals",
    "lf-chart-savings",
    "lf-chart-scatter",
    "lf-chart-quality",
    "lf-chart-rd",
)
RENDERED = (
    "[...document.querySelectorAll('.chart')].every(el => el.querySelector('svg.main-svg') && "
    "el.querySelectorAll('g.trace, g.point, path.point').length > 0)"
)


def _usd(text: str) -> float:
    return float(text.replace("−", "-").replace("$", "").replace(",", ""))


def _screenshot(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def test_report_renders_and_updates(
    synthetic_small: tuple[Path, Path], chromium, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    a, b = synthetic_small
    cmp = compare_folders(a, b)
    report = write_report(cmp, tmp_path / "report.html", tables_dir=None)
    page = chromium(report.as_uri())
    assert page.wait_for("document.body && document.body.dataset.ready") == "1", page.errors
    assert page.eval(RENDERED), "a chart has no plotly SVG trace"
    assert sorted(page.eval("[...document.querySelectorAll('.chart')].map(e => e.id)")) == sorted(
        CHARTS
    )
    assert page.eval("document.getElementById('lf-check').dataset.agree") == "1"
    titles, _ = comparison_tables(cmp)
    assert _usd(page.eval("document.getElementById('total-a').textContent")) == round(
        titles["a_total_usd"].sum(), 2
    )
    # type a new first-tier egress price into its input, as a person would
    before = page.eval("document.body.dataset.updates")
    page.eval("const el = document.getElementById('lf-in-tier-0'); el.focus(); el.select();")
    page.call("Input.insertText", text="0.5")
    page.wait_for(f"document.body.dataset.updates !== '{before}'")
    assert page.eval("document.getElementById('lf-in-tier-0').value") == "0.5"
    tiers = ((cmp.cost.model.egress_tiers[0][0], 0.5), *cmp.cost.model.egress_tiers[1:])
    edited = replace(cmp, cost=replace(cmp.cost, model=replace(cmp.cost.model, egress_tiers=tiers)))
    new_titles, _ = comparison_tables(edited)
    for side in ("a", "b"):
        shown = _usd(page.eval(f"document.getElementById('total-{side}').textContent"))
        assert shown == round(new_titles[f"{side}_total_usd"].sum(), 2)
    assert shown != round(titles["b_total_usd"].sum(), 2)
    # the unsourced bandwidth mix is editable too: everyone on the slowest class
    before = page.eval("document.body.dataset.updates")
    page.eval(
        "document.querySelectorAll('input[data-mix-share]').forEach((el, i) => {"
        " el.value = i === 0 ? '100' : '0'; });"
        "document.getElementById('lf-in-mix-share-0').dispatchEvent(new Event('input'));"
    )
    page.wait_for(f"document.body.dataset.updates !== '{before}'")
    slow = _usd(page.eval("document.getElementById('total-b').textContent"))
    assert slow < shown  # the lowest rungs cost less to deliver
    _screenshot(page, tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert page.errors == []


def test_1000_titles_render_whole_and_small(
    synthetic_1000: tuple[Path, Path], chromium, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    report = write_report(
        compare_folders(*synthetic_1000), tmp_path / "report.html", tables_dir=None
    )
    size_mb = report.stat().st_size / 1e6
    page = chromium(report.as_uri())
    renders = []
    for attempt in range(3):  # best of three loads: this machine runs other jobs meanwhile
        if attempt:
            page.call("Page.navigate", url="about:blank")
            page.wait_for("location.href === 'about:blank'")
            page.call("Page.navigate", url=report.as_uri())
        assert page.wait_for("document.body && document.body.dataset.ready") == "1", page.errors
        assert page.eval(RENDERED)
        renders.append(float(page.eval("document.body.dataset.renderMs")))  # type: ignore[arg-type]
    marks = page.eval("document.body.dataset.marks")
    rows = page.eval("document.querySelectorAll('#lf-titles tr').length")
    _screenshot(page, tmp_path / "report-1000.png")
    (tmp_path / "measured.json").write_text(json.dumps({"size_mb": size_mb, "render_ms": renders}))
    print(f"1000-title report: {size_mb:.2f} MB, rendered in {renders} ms (last: {marks})")
    assert rows == 1001 and page.errors == []
    assert size_mb < 5.0
