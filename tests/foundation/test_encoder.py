"""Encoder backends: argument lists, real encodes, IDR keyframes, failures that leave no file."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ladderforge.encoder import BACKENDS, build_command, capabilities, encode, keyframes
from ladderforge.errors import EncodeError, EncoderUnavailableError, OutputError, UsageError
from ladderforge.media import probe
from ladderforge.types import EncodeSettings


def _settings(**kw) -> EncodeSettings:
    base = {"codec": "x265", "width": 320, "height": 240, "q": 30.0, "preset": "ultrafast"}
    base.update(kw)
    return EncodeSettings(**base)


def _cmd(info, settings, pass_no: int = 0) -> list[str]:
    return build_command(info, settings, "out.mp4", pass_no=pass_no, passlog=Path("/tmp/pl"))


def test_registry_has_all_backends() -> None:
    assert set(BACKENDS) >= {"x265", "x264", "svtav1", "nvenc_hevc", "nvenc_h264", "nvenc_av1"}


def test_x265_args_keyframes_are_closed_gop(lavfi_clip: Path) -> None:
    info = probe(lavfi_clip)
    cmd = _cmd(info, _settings(keyframes=(0, 10), gop=48, width=160, height=120))
    params = cmd[cmd.index("-x265-params") + 1]
    assert "open-gop=0" in params and "keyint=48" in params
    assert cmd[cmd.index("-forced-idr") + 1] == "1"
    assert cmd[cmd.index("-force_key_frames") + 1] == "expr:eq(n,0)+eq(n,10)"
    assert "scale=160:120:flags=lanczos,setsar=1,format=yuv420p" in cmd
    assert cmd[cmd.index("-crf") + 1] == "30"


def test_x265_streams_carry_no_options_sei(lavfi_clip: Path, tmp_path: Path) -> None:
    """x265 writes its command line (2.2-2.3 KB) into the stream unless info=0: a plain encode
    must not, or its rate disagrees with the same settings encoded as chunks."""
    info = probe(lavfi_clip)
    settings = _settings(width=160, height=120)
    assert "info=0" in _cmd(info, settings)[_cmd(info, settings).index("-x265-params") + 1]
    out = encode(info, settings, tmp_path / "plain.mp4")
    data = out.output_path.read_bytes()
    assert b"x265 (build" not in data and b"options:" not in data
    assert out.size_bytes == len(data)


def test_two_pass_args(lavfi_clip: Path) -> None:
    info = probe(lavfi_clip)
    s = _settings(codec="x264", rate_control="bitrate", bitrate_kbps=500, q=None, passes=2)
    first, second = _cmd(info, s, 1), _cmd(info, s, 2)
    assert first[-3:] == ["-f", "null", "-"] and "-pass" in first
    assert second[second.index("-pass") + 1] == "2" and second[-1] == "out.mp4"
    s265 = _settings(rate_control="bitrate", bitrate_kbps=500, q=None, passes=2)
    assert "pass=1" in _cmd(info, s265, 1)[_cmd(info, s265, 1).index("-x265-params") + 1]


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"rate_control": "cq", "q": 28}, ["-rc", "vbr", "-cq", "28", "-b:v", "0"]),
        ({"rate_control": "qp", "q": 25}, ["-rc", "constqp", "-qp", "25"]),
        (
            {
                "rate_control": "bitrate",
                "q": None,
                "bitrate_kbps": 3000,
                "passes": 2,
                "maxrate_kbps": 4500,
            },
            [
                "-rc",
                "vbr",
                "-b:v",
                "3000k",
                "-maxrate",
                "4500k",
                "-bufsize",
                "9000k",
                "-multipass",
                "fullres",
            ],
        ),
    ],
)
def test_nvenc_rate_control_args(lavfi_clip: Path, kw: dict, expected: list[str]) -> None:
    info = probe(lavfi_clip)
    s = _settings(codec="nvenc_hevc", preset="p5", tune="hq", **kw)
    cmd = _cmd(info, s)
    start = cmd.index("-rc")
    assert cmd[start : start + len(expected)] == expected
    assert cmd[cmd.index("-c:v") + 1] == "hevc_nvenc"
    assert cmd[cmd.index("-preset") + 1] == "p5" and cmd[cmd.index("-tune") + 1] == "hq"


def test_nvenc_params_and_ten_bit(lavfi_clip: Path) -> None:
    info = probe(lavfi_clip)
    s = _settings(
        codec="nvenc_hevc",
        preset="p7",
        rate_control="cq",
        q=24,
        pix_fmt="yuv420p10le",
        keyframes=(0,),
        params=(
            ("spatial-aq", "1"),
            ("temporal-aq", "1"),
            ("rc-lookahead", "32"),
            ("b_ref_mode", "middle"),
        ),
    )
    cmd = _cmd(info, s)
    for key, value in (
        ("-spatial-aq", "1"),
        ("-temporal-aq", "1"),
        ("-rc-lookahead", "32"),
        ("-b_ref_mode", "middle"),
        ("-profile:v", "main10"),
        ("-forced-idr", "1"),
    ):
        assert cmd[cmd.index(key) + 1] == value
    assert "format=p010le" in cmd[cmd.index("-vf") + 1]


@pytest.mark.parametrize(
    "kw",
    [
        {"codec": "nvenc_hevc", "preset": "slow", "rate_control": "cq", "q": 28},
        {"codec": "nvenc_h264", "preset": "p4", "rate_control": "crf", "q": 28},
        {"codec": "nvenc_h264", "preset": "p4", "rate_control": "cq", "q": 28, "tune": "uhq"},
        {
            "codec": "nvenc_av1",
            "preset": "p4",
            "rate_control": "cq",
            "q": 28,
            "params": (("bogus", "1"),),
        },
        {
            "codec": "svtav1",
            "preset": "8",
            "rate_control": "bitrate",
            "q": None,
            "bitrate_kbps": 100,
            "passes": 2,
        },
        {"codec": "x265", "q": 60},
    ],
)
def test_invalid_settings_are_rejected(lavfi_clip: Path, kw: dict) -> None:
    with pytest.raises(UsageError):
        encode(lavfi_clip, _settings(**kw), lavfi_clip.parent / "x.mp4")


def test_nvenc_unavailable_fails_cleanly(lavfi_clip: Path, tmp_path: Path) -> None:
    if capabilities().encoders.get("nvenc_hevc"):
        pytest.skip("this machine has a working NVENC")
    out = tmp_path / "nv.mp4"
    with pytest.raises(EncoderUnavailableError, match="nvenc_hevc.*not available") as exc:
        encode(lavfi_clip, _settings(codec="nvenc_hevc", preset="p4", rate_control="cq", q=28), out)
    assert "doctor" in str(exc.value)
    assert not out.exists()


@pytest.mark.parametrize(
    "codec,preset", [("x265", "ultrafast"), ("x264", "ultrafast"), ("svtav1", "12")]
)
def test_real_encode_with_forced_idr(
    bikes_mp4: Path, tmp_path: Path, codec: str, preset: str
) -> None:
    forced = (0, 40, 101, 177)
    s = EncodeSettings(
        codec=codec, width=320, height=136, q=32, preset=preset, keyframes=forced, gop=250
    )
    progress: list[int] = []
    result = encode(bikes_mp4, s, tmp_path / f"{codec}.mp4", on_progress=progress.append)
    assert result.frames == 250 and result.size_bytes > 0
    assert result.cpu_s > 0 and result.wall_s > 0
    assert result.bitrate_kbps == pytest.approx(result.size_bytes * 8 / 10.0 / 1000)
    assert progress and max(progress) <= 250
    found = {k.index: k.idr for k in keyframes(result.output_path)}
    for index in forced:
        assert found.get(index) is True, f"frame {index} is not an IDR keyframe: {found}"
    assert list(tmp_path.glob(".*partial*")) == []


def test_ten_bit_output(lavfi_clip: Path, tmp_path: Path) -> None:
    result = encode(lavfi_clip, _settings(pix_fmt="yuv420p10le"), tmp_path / "ten.mp4")
    assert probe(result.output_path).bit_depth == 10


def test_two_pass_hits_target(bikes_mp4: Path, tmp_path: Path) -> None:
    s = EncodeSettings(
        codec="x264",
        width=320,
        height=136,
        rate_control="bitrate",
        bitrate_kbps=250,
        passes=2,
        preset="ultrafast",
    )
    result = encode(bikes_mp4, s, tmp_path / "2p.mp4")
    assert result.bitrate_kbps == pytest.approx(250, rel=0.15)


def test_odd_dimension_source_encodes(tmp_path: Path, odd_clip: Path) -> None:
    clip = odd_clip
    result = encode(clip, _settings(width=320, height=240), tmp_path / "even.mp4")
    assert result.frames == 5


@pytest.mark.parametrize("name", ["with space.mp4", 'it\'s "quoted".mp4', "-dash.mp4"])
def test_awkward_output_names(lavfi_clip: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    assert encode(lavfi_clip, _settings(), out).output_path == out and out.is_file()


def _ffmpeg_children() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid() and "ffmpeg" in stat.split("(")[1].split(")")[0]:
                pids.append(int(entry.name))
    return pids


def test_ffmpeg_killed_mid_encode(bbb_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed.mp4"

    def killer() -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            pids = _ffmpeg_children()
            if pids:
                time.sleep(0.3)
                for pid in pids:
                    os.kill(pid, 9)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    with pytest.raises(EncodeError, match="killed by signal 9") as exc:
        encode(bbb_mp4, _settings(width=1280, height=720, preset="medium"), out)
    thread.join()
    assert "bigbuckbunny.mp4" in str(exc.value)
    assert not out.exists() and list(tmp_path.glob(".*partial*")) == []


def test_timeout(bbb_mp4: Path, tmp_path: Path) -> None:
    with pytest.raises(EncodeError, match="timed out"):
        encode(
            bbb_mp4,
            _settings(width=1280, height=720, preset="medium"),
            tmp_path / "t.mp4",
            timeout_s=0.5,
        )


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir()
    if shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def test_read_only_output_folder(lavfi_clip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    if not _mount_tmpfs(folder, "ro,size=1m"):
        if os.geteuid() == 0:
            pytest.skip("cannot mount a read-only tmpfs here and root ignores permissions")
        folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="ro: the output folder is not writable"):
            encode(lavfi_clip, _settings(), folder / "x.mp4")
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True, check=False)


def test_full_output_folder(bbb_mp4: Path, tmp_path: Path) -> None:
    folder = tmp_path / "full"
    if not _mount_tmpfs(folder, "size=64k"):
        pytest.skip("cannot mount a small tmpfs here to fill")
    try:
        with pytest.raises(OutputError, match="No space left on device"):
            encode(bbb_mp4, _settings(width=640, height=360, q=10), folder / "big.mp4")
        assert list(folder.iterdir()) == []
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True, check=False)
