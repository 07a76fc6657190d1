"""The A/B cost dashboard: two strategies' output folders compared on quality, bitrate and cost,
as one self-contained HTML report (:func:`write_report`) and CSV/parquet tables."""

from ladderforge.dashboard.data import load_strategy
from ladderforge.dashboard.report import (
    Comparison,
    build_report,
    compare_folders,
    comparison_tables,
    write_report,
)

__all__ = [
    "Comparison",
    "build_report",
    "compare_folders",
    "comparison_tables",
    "load_strategy",
    "write_report",
]
