"""``ladderforge enhance train | apply | eval``: the learned residual enhancement stage."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer

from ladderforge._cli.common import console, guarded, print_table, progress_bar
from ladderforge.enhance import DEFAULT_PRESET

enhance_app = typer.Typer(
    name="enhance",
    help="Learned residual enhancement (needs: pip install 'ladderforge\\[enhance]').",
    no_args_is_help=True,
)


@enhance_app.command("train")
def train_cmd(
    sources: list[Path] = typer.Argument(..., help="Source clips to make training pairs from."),
    output: Path = typer.Option(..., "-o", "--output", help="Model file to write (.pt)."),
    workdir: Path = typer.Option(Path("enhance-work"), help="Where the pairs are encoded."),
    preset: str = typer.Option(
        DEFAULT_PRESET,
        help="Network size: tiny, small; tiny-f, small-f take the upscale factor as an input.",
    ),
    init: Path = typer.Option(None, help="Fine-tune this model (per-title) instead."),
    head_only: bool = typer.Option(False, help="Fine-tune the last layer only."),
    steps: int = typer.Option(2000, help="Optimizer steps."),
    batch_size: int = typer.Option(32, help="Patches per step."),
    lr: float = typer.Option(1e-3, help="Peak learning rate."),
    seed: int = typer.Option(0, help="Seed of weights, batches and augmentation."),
    scales: str = typer.Option("1,0.75,0.5", help="Rung sizes as fractions of the source."),
    crfs: str = typer.Option("24,30,36", help="x265 CRFs of the pairs."),
    x265_preset: str = typer.Option("fast", help="x265 preset of the pairs."),
    frames: int = typer.Option(48, help="Frames used from each source."),
    device: str = typer.Option(None, help="cpu or cuda (default: cuda when present)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Encode SOURCES with x265, cut patches and train a model."""
    from ladderforge.enhance import TrainConfig, load_model, make_pairs, sample_patches, train

    with progress_bar(transient=True) as bar:
        task = bar.add_task("encoding pairs", total=None)
        pairs = guarded(
            lambda: make_pairs(
                sources, workdir=workdir, scales=_floats(scales), crfs=_floats(crfs),
                preset=x265_preset, max_frames=frames,
                on_progress=lambda d, n: bar.update(task, completed=d, total=n),
            ),
            verbose=verbose,
        )  # fmt: skip
        patches = guarded(lambda: sample_patches(pairs, seed=seed), verbose=verbose)
        base = guarded(lambda: load_model(init)) if init is not None else None
        config = guarded(
            lambda: TrainConfig(
                preset=preset, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                trainable="head" if head_only else "all",
            )
        )  # fmt: skip
        task = bar.add_task("training", total=steps)
        model = guarded(
            lambda: train(
                patches, config=config, init=base, device=device, metadata={"codec": "x265"},
                on_progress=lambda s, n, loss: bar.update(task, completed=s),
            ),
            verbose=verbose,
        )  # fmt: skip
    guarded(lambda: model.save(output))
    m = model.metadata
    console.print(
        f"{output}: preset {model.preset.name}, {len(patches)} patches, validation PSNR-Y "
        f"{m['val_psnr_in_db']:.2f} -> {m['val_psnr_out_db']:.2f} dB, {m['train_s']:.0f} s"
    )


@enhance_app.command("apply")
def apply_cmd(
    dist: Path = typer.Argument(..., help="The rendition to enhance."),
    output: Path = typer.Argument(..., help="Enhanced video to write (.mkv for FFV1)."),
    model: Path = typer.Option(None, help="Model file (default: the shipped tiny model)."),
    width: int = typer.Option(0, help="Display width (0: the rendition's)."),
    height: int = typer.Option(0, help="Display height (0: the rendition's)."),
    codec: str = typer.Option("ffv1", help="Output codec through PyAV (ffv1 is lossless)."),
    tile: int = typer.Option(512, help="Largest tile side; bigger frames are tiled."),
    batch: int = typer.Option(4, help="Frames (or tiles) per network call."),
    device: str = typer.Option(None, help="cpu or cuda (default: cuda when present)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Enhance DIST (upscaled to WIDTHxHEIGHT) and write OUTPUT; prints the fps."""
    from ladderforge.enhance import apply, load_model
    from ladderforge.enhance.frames import video_grid

    net = guarded(lambda: load_model(model), verbose=verbose)
    total = guarded(lambda: video_grid(dist)).frames or None
    with progress_bar(transient=True) as bar:
        task = bar.add_task("enhancing", total=total)
        result = guarded(
            lambda: apply(
                net, dist, output, width=width or None, height=height or None, codec=codec,
                tile=tile, batch=batch, device=device,
                on_progress=lambda n: bar.update(task, completed=n),
            ),
            verbose=verbose,
        )  # fmt: skip
    console.print(
        f"{output}: {result.frames} frames {result.width}x{result.height} on {result.device}, "
        f"{result.fps:.1f} fps end to end, {result.model_fps:.1f} fps network"
    )


@enhance_app.command("eval")
def eval_cmd(
    ref: Path = typer.Argument(..., help="The reference (source as decoded)."),
    renditions: list[Path] = typer.Argument(..., help="x265 renditions of REF (any sizes)."),
    model: Path = typer.Option(None, help="Model file (default: the shipped tiny model)."),
    workdir: Path = typer.Option(Path("enhance-eval"), help="Where enhanced files go."),
    subsample: int = typer.Option(1, help="Score every n-th frame."),
    device: str = typer.Option(None, help="cpu or cuda (default: cuda when present)."),
    output: Path = typer.Option(None, "-o", "--output", help="Write the results JSON here."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """VMAF, VMAF NEG, PSNR-Y and SSIM of each rendition before and after, the guard, BD-rates."""
    from rich.table import Table

    from ladderforge.enhance import load_model
    from ladderforge.jobs.enhance import RungEval, evaluate_rendition, ladder_bd_rates
    from ladderforge.media import probe
    from ladderforge.store import atomic_write_json
    from ladderforge.types import EncodeSettings

    net = guarded(lambda: load_model(model), verbose=verbose)

    def one(dist: Path) -> RungEval:
        info = probe(dist, hash_content=False)
        settings = EncodeSettings(
            codec="x265",
            width=max(2, info.width // 2 * 2),
            height=max(2, info.height // 2 * 2),
            q=0,
        )  # only a label: the rendition's size
        kbps = info.size_bytes * 8 / info.duration_s / 1000
        return evaluate_rendition(
            net, ref, dist, settings=settings, bitrate_kbps=kbps, workdir=workdir,
            n_subsample=subsample, device=device, title=ref.stem,
        )  # fmt: skip

    rungs = [guarded(partial(one, dist), verbose=verbose) for dist in renditions]
    table = Table("rendition", "kbps", "VMAF", "VMAF NEG", "PSNR-Y", "SSIM", "guard")
    for dist, r in zip(renditions, rungs, strict=True):
        b, a = r.before, r.after
        table.add_row(
            dist.name, f"{r.bitrate_kbps:.0f}", f"{b['vmaf']:.2f} -> {a['vmaf']:.2f}",
            f"{b['vmaf_neg']:.2f} -> {a['vmaf_neg']:.2f}",
            f"{b['psnr_y']:.2f} -> {a['psnr_y']:.2f}", f"{b['ssim']:.4f} -> {a['ssim']:.4f}",
            "on" if r.enabled else "off",
        )  # fmt: skip
    print_table(table)
    bd = ladder_bd_rates(rungs) if len(rungs) > 1 else {}
    for metric, value in bd.items():
        console.print(f"BD-rate {metric}: " + ("n/a" if value is None else f"{value:+.2f}%"))
    if output is not None:
        data = {"rungs": [r.to_dict() for r in rungs], "bd_rate": bd}
        guarded(lambda: atomic_write_json(output, data))
        console.print(f"wrote {output}")


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers, got {text!r}") from None


def register(app: typer.Typer) -> None:
    app.add_typer(enhance_app, name="enhance")
