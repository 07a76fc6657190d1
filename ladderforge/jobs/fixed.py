"""The fixed-ladder baseline as a strategy: Apple's HLS rows encoded and measured per title.

METRICS.md's baseline: every row of Apple's ladder for the encoder's family
(:func:`~ladderforge.policy.apple_ladder`: the H.264 rows for x264 and NVENC H.264, the HEVC
rows otherwise) fitted to the source, encoded two-pass at the row's bitrate with the same
encoder and preset as the strategy it is compared with, and measured with VMAF (and VMAF NEG)
against the source. ``OUT/<title>/`` gets each rendition (``<height>p_<kbps>k.mp4``) and
``<title>.ladder.json`` (mode ``fixed``; a fixed ladder declares only bitrates, so its
"predicted" VMAF is the measured one). A title whose ladder JSON already exists is not redone
(resume).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path

from ladderforge import __version__
from ladderforge.encoder import check_available, codec_facts, encode
from ladderforge.errors import UsageError
from ladderforge.jobs.costs import price_ladder, priced_rungs
from ladderforge.media import ffmpeg_version, probe
from ladderforge.policy import apple_ladder, apple_rows
from ladderforge.policy.cost import CostModel
from ladderforge.store import atomic_write_json
from ladderforge.types import EncodeSettings, Ladder, Provenance, Rung, RungCosts
from ladderforge.types.media import to_jsonable
from ladderforge.vmaf_tools import measure

__all__ = ["FIXED_NOTE", "plan_fixed_title"]

log = logging.getLogger(__name__)

FIXED_NOTE = (
    "fixed ladder (Apple HLS {rows} rows), two-pass at each row's bitrate; a fixed ladder "
    "declares no VMAF, so the predicted VMAF is the measured one"
)
"""The fixed ladder's note; ``{rows}`` names the table (:func:`~ladderforge.policy.apple_rows`)."""


def plan_fixed_title(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    codec: str = "x265",
    preset: str | None = None,
    cost: CostModel | None = None,
    title: str | None = None,
    on_stage: Callable[[str, str], None] | None = None,
) -> Ladder:
    """Encode and measure Apple's ladder for one title; write and return its ladder JSON."""
    path = Path(source)
    name = title or path.stem
    folder = Path(out_dir) / name
    json_path = folder / f"{name}.ladder.json"
    if json_path.is_file():
        try:
            return Ladder.read(json_path)
        except UsageError:
            log.info("%s: unreadable ladder JSON, redone", json_path)
    facts = codec_facts(codec)
    preset = preset or facts.default_preset
    facts.preset_rank(preset)
    check_available(codec)
    model = cost or CostModel()
    info = probe(path)
    folder.mkdir(parents=True, exist_ok=True)
    rungs = []
    for row in apple_ladder(facts.family, info.width, info.height):
        settings = EncodeSettings(
            codec=codec,
            width=row.width,
            height=row.height,
            rate_control="bitrate",
            bitrate_kbps=row.bitrate_kbps,
            passes=2,
            preset=preset,
        )
        if on_stage:
            on_stage(name, f"fixed {row.height}p {row.bitrate_kbps:g} kbps")
        out = folder / f"{row.height}p_{round(row.bitrate_kbps)}k.mp4"
        result = encode(info, settings, out)
        quality = measure(info, out, metrics=["vmaf", "vmaf_neg"])
        rungs.append(
            Rung(
                settings=settings,
                bitrate_kbps=row.bitrate_kbps,
                vmaf=quality.vmaf,
                measured_bitrate_kbps=result.bitrate_kbps,
                measured_vmaf=quality.vmaf,
                measured_vmaf_neg=quality.pooled["vmaf_neg"].mean,
                cost=RungCosts(encode_cpu_s=result.cpu_s, encode_cpu_s_measured=result.cpu_s),
            )
        )
    rungs = priced_rungs(rungs, info=info, device=facts.device, model=model)
    cost_dict = {f.name: to_jsonable(getattr(model, f.name)) for f in fields(model)}
    config = {"strategy": "apple", "codec": codec, "preset": preset, "cost": cost_dict}
    ladder = Ladder(
        name,
        info,
        tuple(rungs),
        mode="fixed",
        notes=(FIXED_NOTE.format(rows=apple_rows(facts.family)[0]),),
        provenance=Provenance(
            ladderforge=__version__,
            ffmpeg=ffmpeg_version(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            config=config,
        ),
        cost=price_ladder(rungs, info=info, device=facts.device, model=model),
    )
    atomic_write_json(json_path, ladder.to_dict())
    return ladder
