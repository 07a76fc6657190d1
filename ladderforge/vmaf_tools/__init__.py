"""Quality measurement through ffmpeg: VMAF (+NEG, 4K, phone, v1), PSNR, SSIM, XPSNR."""

from ladderforge.vmaf_tools.measure import DEFAULT_METRICS, KNOWN_METRICS, measure, pool
from ladderforge.vmaf_tools.ranges import range_scores

__all__ = ["DEFAULT_METRICS", "KNOWN_METRICS", "measure", "pool", "range_scores"]
