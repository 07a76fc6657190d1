"""Foundation: the ffmpeg binary, what it can do, and probing sources."""

from ladderforge.media.capabilities import Capabilities, detect_capabilities
from ladderforge.media.ffmpeg import FFmpegRun, ffmpeg_path, ffmpeg_version, run_ffmpeg
from ladderforge.media.probe import check_input_file, content_hash, probe

__all__ = [
    "Capabilities",
    "FFmpegRun",
    "check_input_file",
    "content_hash",
    "detect_capabilities",
    "ffmpeg_path",
    "ffmpeg_version",
    "probe",
    "run_ffmpeg",
]
