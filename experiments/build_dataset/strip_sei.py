"""Take x265's options SEI out of a dataset snapshot's sizes and rates (once).

Until store key ``encode/2`` every plain x265 encode carried x265's options SEI: its whole
command line, 2,331-2,337 bytes on this toolchain (measured on six of the x265 veryfast
snapshot's sample references at two heights each, an encode with ``info=1`` against one with
``info=0``, everything else equal; it does not depend on the CRF or the picture content). The
rungs the product ships never carried it (chunked encodes always had ``info=0``), so a model
trained on those sizes predicted every rate high by 2.3 KB per sample: 5.9 % of the median
sample's bytes, up to 36 % of the smallest. This script removes ``SEI_BYTES`` from every row's
``size_bytes`` and scales ``bitrate_kbps`` by the same factor, and records it in the column
``sei_bytes_removed`` and in the provenance. A snapshot that already has the column is left
alone. Campaigns run after the key change need none of this.

Usage: python experiments/build_dataset/strip_sei.py [SNAPSHOT.parquet]
(default: data/x265_veryfast.parquet)
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import polars as pl

from ladderforge.store import atomic_write_bytes, atomic_write_json

HERE = Path(__file__).resolve().parent
SEI_BYTES = 2334
"""The middle of the measured 2,331-2,337 bytes (the error is at most 0.05 % of any row)."""


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "data" / "x265_veryfast.parquet"
    data = pl.read_parquet(path)
    if "sei_bytes_removed" in data.columns:
        print(f"{path}: already corrected")
        return 0
    if set(data["codec"].unique().to_list()) != {"x265"}:
        print(f"{path}: not an x265 dataset; only x265 wrote the options SEI", file=sys.stderr)
        return 2
    fixed = data.with_columns(
        (pl.col("bitrate_kbps") * (pl.col("size_bytes") - SEI_BYTES) / pl.col("size_bytes")),
        (pl.col("size_bytes") - SEI_BYTES),
        pl.lit(SEI_BYTES).alias("sei_bytes_removed"),
    )
    buf = io.BytesIO()
    fixed.write_parquet(buf)
    atomic_write_bytes(path, buf.getvalue())
    provenance = path.with_suffix(".provenance.json")
    if provenance.is_file():
        meta = json.loads(provenance.read_text())
        meta["sei_bytes_removed"] = {
            "bytes": SEI_BYTES,
            "why": "x265's options SEI, written by plain encodes before store key encode/2; "
            "see experiments/build_dataset/strip_sei.py",
        }
        atomic_write_json(provenance, meta)
    share = (SEI_BYTES / data["size_bytes"]).median()
    print(f"{path}: {SEI_BYTES} bytes removed from {data.height} rows (median {share:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
