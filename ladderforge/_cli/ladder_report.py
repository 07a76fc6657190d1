"""What ``ladderforge ladder`` shows: the rung table, notes, sizes, the ``--json`` summary and the
``--dry-run`` estimate. Only formatting lives here; the figures come from the library."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ladderforge._cli.common import err_console, print_table

if TYPE_CHECKING:
    from ladderforge.jobs.batch import BatchReport
    from ladderforge.jobs.dry_run import TitleEstimate
    from ladderforge.types import LadderEnhance, Rung

__all__ = ["print_dry_run", "print_report", "report_json"]


def print_report(report: BatchReport, *, quiet: bool) -> None:
    """The rung table on stdout; notes and sizes on stderr (nothing when ``quiet``)."""
    if quiet:
        return
    enhanced = any(plan.ladder.enhance for plan in report.plans.values())
    table = Table(
        "title", "rung", "resolution", "crf", "pred kbps", "pred vmaf", "meas kbps", "meas vmaf",
        *(["enhanced vmaf"] if enhanced else []), "encodes", "decision cpu s",
    )  # fmt: skip
    for title, plan in report.plans.items():
        for i, r in enumerate(plan.ladder.rungs):
            s = r.settings
            stage = [_stage_cell(r, plan.ladder.enhance)] if enhanced else []
            table.add_row(
                title if i == 0 else "",
                str(i + 1),
                f"{s.width}x{s.height}",
                crfs(r),
                f"{r.bitrate_kbps:.0f}",
                f"{r.vmaf:.1f}",
                "" if r.measured_bitrate_kbps is None else f"{r.measured_bitrate_kbps:.0f}",
                "" if r.measured_vmaf is None else f"{r.measured_vmaf:.2f}",
                *stage,
                str(len(r.attempts) or (1 if r.measured_vmaf is not None else 0)),
                f"{plan.decision_cpu_s + plan.loop_cpu_s:.1f}" if i == 0 else "",
            )
    print_table(table)
    for title, plan in report.plans.items():
        for note in plan.ladder.notes:
            err_console.print(f"[yellow]{title}:[/] {note}", highlight=False)
        err_console.print(
            f"{title}: deliverables {plan.deliver_bytes / 1e6:.2f} MB; work files "
            f"{plan.work_bytes / 1e6:.2f} MB"
            + ("" if plan.ladder.provenance is None else _kept(plan.ladder.provenance.config)),
            highlight=False,
        )


def _kept(config: dict[str, Any]) -> str:
    return " (kept)" if config.get("keep_work") else " (removed; --keep-work keeps them)"


def _stage_cell(rung: Rung, stage: LadderEnhance | None) -> str:
    """The rung's VMAF after the enhancement stage, and whether players run it there (if not,
    why: the guard, naming what the stage lowered, or no VMAF gain)."""
    if rung.enhance is None:
        return ""
    from ladderforge.jobs.enhance import GUARD_METRICS, stage_off_reason

    e = rung.enhance
    metrics = stage.guard_metrics if stage is not None else GUARD_METRICS
    reason = stage_off_reason(e.plain, e.enhanced, metrics=metrics)
    return f"{e.enhanced.vmaf:.2f} " + ("(on)" if e.enabled else f"(off: {reason or 'guard'})")


def crfs(rung: Rung) -> str:
    """The rung's CRF, or the range of its chunks' CRFs (per-scene)."""
    qs = [c.q for c in rung.chunks] or [rung.settings.q or 0]
    return f"{min(qs):g}" if min(qs) == max(qs) else f"{min(qs):g}-{max(qs):g}"


def report_json(report: BatchReport, output: Path) -> str:
    """The ``--json`` summary: every title's files (relative to ``output``), rungs, costs."""
    titles = []
    for title, plan in report.plans.items():
        folder = output / title
        ladder = plan.ladder
        titles.append(
            {
                "title": title,
                "source": str(ladder.source.path) if ladder.source else None,
                "folder": str(folder),
                "ladder_json": str(folder / f"{title}.ladder.json"),
                "manifests": {k: str(folder / v) for k, v in ladder.manifests.items()},
                "files": sorted(
                    str(p.relative_to(output)) for p in folder.rglob("*") if p.is_file()
                ),
                "rungs": [
                    {
                        "name": r.name,
                        "resolution": f"{r.settings.width}x{r.settings.height}",
                        "q": r.settings.q,
                        "predicted_kbps": r.bitrate_kbps,
                        "predicted_vmaf": r.vmaf,
                        "measured_kbps": r.measured_bitrate_kbps,
                        "measured_vmaf": r.measured_vmaf,
                        "encodes": len(r.attempts) or None,
                    }
                    | ({"enhance": r.enhance.to_dict()} if r.enhance else {})
                    for r in ladder.rungs
                ],
                "cost": ladder.cost.to_dict() if ladder.cost else None,
                "decision_cpu_s": plan.decision_cpu_s,
                "closed_loop_extra_cpu_s": plan.loop_cpu_s,
                "deliver_bytes": plan.deliver_bytes,
                "notes": list(ladder.notes),
            }
        )
    return json.dumps(
        {
            "output": str(output),
            "summary": str(output / "summary.parquet"),
            "titles": titles,
            "failures": report.failures,
        },
        indent=1,
    )


def print_dry_run(estimates: Sequence[TitleEstimate], *, as_json: bool) -> None:
    """What would run, per title and in total (upper bounds; nothing was encoded)."""
    if as_json:
        typer.echo(json.dumps({"dry_run": [e.__dict__ for e in estimates]}, indent=1))
        return
    table = Table("title", "mode", "frames", "decision encodes", "rung encodes", "est. cpu s")
    for e in estimates:
        table.add_row(
            e.title, e.mode, str(e.frames), str(e.decision_encodes), f"<= {e.rung_encodes}",
            f"<= {e.est_encode_cpu_s:.0f}",
        )  # fmt: skip
    print_table(table)
    total = sum(e.est_encode_cpu_s for e in estimates)
    err_console.print(
        f"dry run: nothing encoded; at most {total:.0f} encode CPU-seconds "
        f"({total / 3600:.2f} CPU-hours) for {len(estimates)} title(s), VMAF not included",
        highlight=False,
    )
