"""The option names the software encoders take through ``-x265-params``, ``-x264-params`` and
``-svtav1-params``, so that a misspelt key in ``EncodeSettings.params`` is an error.

ffmpeg only logs a warning for an unknown key ("Unknown option: foo." for x265, "Error parsing
option" for x264 and SVT-AV1) and encodes without it, exit code 0: the setting would be silently
lost. The lists are the documented options (x265 ``--fullhelp`` / cli.rst, x264 ``--fullhelp``,
SVT-AV1 ``Docs/Parameters.md``) that the library parsers accept; each name was tried against the
imageio-ffmpeg build (ffmpeg 9.0.2: x265 4.3, x264 core 165, SVT-AV1 4.2) and none gave an
unknown-option message. Options of the standalone programs only (``--input``, ``--qpfile``,
``--fgs-table``, ``--stats`` of SVT-AV1...) are not here: the libraries do not take them. x265 and
x264 also take ``no-NAME`` for every ``NAME``.
"""

from __future__ import annotations

__all__ = ["SVTAV1_PARAMS", "X264_PARAMS", "X265_PARAMS", "unknown_param"]

X265_PARAMS = frozenset(
    {
        # threading and performance
        "asm", "frame-threads", "pools", "numa-pools", "wpp", "pmode", "pme", "slices",
        "lookahead-slices", "lookahead-threads", "copy-pic",
        # logging and reporting
        "log-level", "csv", "csv-log-level", "ssim", "psnr",
        # level, tier, references
        "level-idc", "high-tier", "ref", "allow-non-conformance", "uhd-bd",
        # mode decision and analysis
        "rd", "ctu", "min-cu-size", "limit-refs", "limit-modes", "rect", "amp", "early-skip",
        "rskip", "rskip-edge-threshold", "splitrd-skip", "fast-intra", "b-intra", "cu-lossless",
        "tskip-fast", "rd-refine", "dynamic-rd", "ssim-rd", "rdpenalty", "max-tu-size",
        "dynamic-refine", "tu-intra-depth", "tu-inter-depth", "limit-tu", "nr-intra", "nr-inter",
        "tskip", "rdoq-level",
        # motion search
        "max-merge", "me", "subme", "merange", "temporal-mvp", "weightp", "weightb",
        "analyze-src-pics", "hme", "hme-search", "hme-range",
        # intra, psycho-visual
        "strong-intra-smoothing", "constrained-intra", "psy-rd", "psy-rdoq",
        # slice decision
        "open-gop", "keyint", "min-keyint", "scenecut", "scenecut-bias", "hist-scenecut", "radl",
        "ctu-info", "intra-refresh", "rc-lookahead", "gop-lookahead", "b-adapt", "bframes",
        "bframe-bias", "b-pyramid", "force-flush", "fades",
        # rate control
        "bitrate", "crf", "crf-max", "crf-min", "vbv-bufsize", "vbv-maxrate", "vbv-init",
        "vbv-end", "vbv-end-fr-adj", "min-vbv-fullness", "max-vbv-fullness", "qp", "lossless",
        "aq-mode", "aq-strength", "aq-motion", "hevc-aq", "qp-adaptation-range", "qg-size",
        "cutree", "pass", "stats", "slow-firstpass", "multi-pass-opt-analysis",
        "multi-pass-opt-distortion", "strict-cbr", "cbqpoffs", "crqpoffs", "ipratio", "pbratio",
        "qcomp", "qpstep", "qpmin", "qpmax", "rc-grain", "const-vbv", "qblur", "cplxblur",
        "zones", "scenecut-aware-qp", "masking-strength",
        # quantization and loop filters
        "signhide", "scaling-list", "lambda-file", "deblock", "sao", "sao-non-deblock",
        "limit-sao", "selective-sao",
        # VUI and SEI
        "sar", "display-window", "overscan", "videoformat", "range", "colorprim", "transfer",
        "colormatrix", "chromaloc", "master-display", "max-cll", "cll", "hdr10", "hdr10-opt",
        "dhdr10-info", "dhdr10-opt", "min-luma", "max-luma", "atc-sei", "pic-struct", "interlace",
        # bitstream
        "annexb", "repeat-headers", "aud", "hrd", "hrd-concat", "dolby-vision-profile", "info",
        "hash", "temporal-layers", "log2-max-poc-lsb", "vui-timing-info", "vui-hrd-info",
        "opt-qp-pps", "opt-ref-list-length-pps", "multi-pass-opt-rps", "opt-cu-delta-qp",
        "idr-recovery-sei", "single-sei", "lowpass-dct", "frame-dup", "dup-threshold",
        "film-grain",
    }
)  # fmt: skip
"""Keys of ``-x265-params`` (https://x265.readthedocs.io/en/master/cli.html, without ``--``)."""

X264_PARAMS = frozenset(
    {
        # threading and logging
        "threads", "lookahead-threads", "sliced-threads", "sync-lookahead", "deterministic",
        "non-deterministic", "cpu-independent", "asm", "log", "psnr", "ssim",
        # level and VUI
        "level", "bluray-compat", "avcintra-class", "sar", "overscan", "videoformat",
        "fullrange", "colorprim", "transfer", "colormatrix", "chromaloc", "mastering-display",
        "cll", "alternative-transfer", "fps",
        # frame types
        "ref", "keyint", "min-keyint", "scenecut", "intra-refresh", "bframes", "b-adapt",
        "b-bias", "b-pyramid", "open-gop", "deblock", "interlaced", "tff", "bff",
        "constrained-intra", "cabac", "fake-interlaced", "frame-packing",
        # quantization matrices
        "cqm", "cqmfile", "cqm4", "cqm4i", "cqm4p", "cqm4iy", "cqm4ic", "cqm4py", "cqm4pc",
        "cqm8", "cqm8i", "cqm8p",
        # analysis
        "partitions", "analyse", "direct", "weightb", "weightp", "me", "merange", "mvrange",
        "mvrange-thread", "subme", "psy-rd", "psy", "mixed-refs", "chroma-me", "8x8dct",
        "trellis", "fast-pskip", "dct-decimate", "nr", "deadzone-inter", "deadzone-intra",
        # rate control
        "bitrate", "qp", "crf", "crf-max", "rc-lookahead", "qpmin", "qpmax", "qpstep", "ratetol",
        "vbv-maxrate", "vbv-bufsize", "vbv-init", "ipratio", "pbratio", "chroma-qp-offset",
        "aq-mode", "aq-strength", "pass", "stats", "qcomp", "mbtree", "qblur", "cplxblur",
        "zones",
        # bitstream
        "crop-rect", "filler", "annexb", "force-cfr", "nal-hrd", "pic-struct", "stitchable",
        "slice-max-size", "slice-max-mbs", "slice-min-mbs", "slices", "slices-max", "aud",
        "sps-id", "global-header", "repeat-headers",
    }
)  # fmt: skip
"""Keys of ``-x264-params`` (``x264 --fullhelp``, without ``--``)."""

SVTAV1_PARAMS = frozenset(
    {
        # rate control
        "preset", "tune", "crf", "qp", "rc", "tbr", "mbr", "min-qp", "max-qp", "buf-sz",
        "buf-initial-sz", "buf-optimal-sz", "undershoot-pct", "overshoot-pct", "recode-loop",
        "aq-mode", "enable-qm", "qm-min", "qm-max", "lossless", "rtc", "pass",
        "enable-variance-boost", "variance-boost-strength", "variance-octile",
        "variance-boost-curve", "luminance-qp-bias", "sharpness", "use-fixed-qindex-offsets",
        # GOP and lookahead
        "keyint", "irefresh-type", "scd", "lookahead", "hierarchical-levels", "pred-struct",
        "startup-mg-size", "enable-overlays", "enable-tf", "tf-strength",
        # tools
        "film-grain", "film-grain-denoise", "adaptive-film-grain", "enable-cdef",
        "enable-restoration", "enable-dlf", "fast-decode", "scm", "enable-dg",
        # tiles, threads, level
        "tile-rows", "tile-columns", "lp", "level", "profile", "avif",
        # colour
        "color-primaries", "transfer-characteristics", "matrix-coefficients", "color-range",
        "chroma-sample-position", "mastering-display", "content-light",
    }
)  # fmt: skip
"""Keys of ``-svtav1-params`` (SVT-AV1 ``Docs/Parameters.md``, without ``--``)."""


def unknown_param(key: str, known: frozenset[str], *, negatable: bool) -> bool:
    """Whether ``key`` is not an option name (``no-NAME`` counts when ``negatable``)."""
    if key in known:
        return False
    return not (negatable and key.startswith("no-") and key[3:] in known)
