"""Speed and memory of utterance segmentation (silero-vad on onnxruntime) on a long recording.

    .venv/bin/python bench/segment.py /work/shared/data/ravdess16k [--minutes 10]

Builds a conversation of at least ``--minutes`` from the RAVDESS clips (each brought to
-25 dBFS RMS, in a seeded random order, separated by 0.5-2 s of digital silence or white noise at
-45 dBFS), writes it to a temporary directory as 16 kHz mono FLAC and as 48 kHz stereo 16-bit
WAV (written block by block, never held whole), then times :func:`sera.segment.segment_file` on
each. Real-time factor = audio seconds / wall seconds. ``vad_only`` is the ONNX model alone on
the same samples (no decoding, resampling or decisions). Peak memory is the process's maximum
resident set (``ru_maxrss``) and, in a separate pass, the peak of Python allocations
(tracemalloc). The figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from sera.segment import FRAME, SileroVAD, segment_file

SR = 16000
LEVEL_DBFS = -25.0
NOISE_DBFS = -45.0


def build_conversation(data_dir: Path | None, out: Path, minutes: float, seed: int = 0,
                       clips: list[Path] | None = None) -> dict:
    """Write a conversation of at least ``minutes`` to ``out`` (16 kHz mono FLAC) and to
    ``out`` with a ``-48k.wav`` suffix (48 kHz stereo), one clip at a time, from the RAVDESS
    clips of ``data_dir`` or the 16 kHz ``clips`` given."""
    rng = np.random.default_rng(seed)
    clips = sorted(clips or Path(data_dir).glob("Actor_*/*.flac"))
    if not clips:
        raise SystemExit(f"no RAVDESS clips under {data_dir}")
    order = rng.permutation(len(clips))
    wide = out.with_name(out.stem + "-48k.wav")
    upsampler = soxr.ResampleStream(SR, 48000, 1, dtype="float32", quality="HQ")
    written = n_clips = 0
    with sf.SoundFile(out, "w", SR, 1, subtype="PCM_16") as narrow_file, \
            sf.SoundFile(wide, "w", 48000, 2, subtype="PCM_16") as wide_file:
        def write(y: np.ndarray, last: bool = False) -> None:
            narrow_file.write(y)
            up = upsampler.resample_chunk(y, last=last)
            wide_file.write(np.stack([up, 0.8 * up], axis=1))

        while written < minutes * 60 * SR:
            gap = int(rng.uniform(0.5, 2.0) * SR)
            silence = rng.random() < 0.5
            write(np.zeros(gap, np.float32) if silence else
                  (10 ** (NOISE_DBFS / 20) * rng.standard_normal(gap)).astype(np.float32))
            y = sf.read(clips[order[n_clips % len(clips)]], dtype="float32")[0]
            gain = min(10 ** (LEVEL_DBFS / 20) / np.sqrt(np.mean(y ** 2)), 0.99 / np.abs(y).max())
            write((y * gain).astype(np.float32))
            written += gap + y.size
            n_clips += 1
        write(np.zeros(SR, np.float32), last=True)
        written += SR
    return {"seconds": written / SR, "clips": n_clips, "narrow": out, "wide": wide}


def time_segment_file(path: Path) -> dict:
    start = time.perf_counter()
    utterances = list(segment_file(path))
    seconds = time.perf_counter() - start
    return {"wall_s": round(seconds, 3), "utterances": len(utterances),
            "speech_s": round(sum(u.duration for u in utterances), 1)}


def time_vad_only(path: Path) -> dict:
    vad, frames, seconds = SileroVAD(), 0, 0.0
    for block in sf.blocks(str(path), blocksize=30 * SR, dtype="float32"):
        block = block[:block.size // FRAME * FRAME]
        start = time.perf_counter()
        vad.frame_probabilities(block)
        seconds += time.perf_counter() - start
        frames += block.size // FRAME
    return {"wall_s": round(seconds, 3), "us_per_frame": round(seconds / frames * 1e6, 1)}


def run(data_dir: str | Path, minutes: float = 10.0) -> dict:
    """Build the long file, time and measure segmentation on it; return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        built = build_conversation(Path(data_dir), Path(tmp) / "conversation.flac", minutes)
        audio_s = built["seconds"]
        list(segment_file(built["narrow"], block_seconds=1.0))  # load the model once
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result = {"audio_s": round(audio_s, 1), "clips": built["clips"]}
        for name in ("narrow", "wide"):
            figures = time_segment_file(built[name])
            figures["realtime_factor"] = round(audio_s / figures["wall_s"])
            result[{"narrow": "flac_16k_mono", "wide": "wav_48k_stereo"}[name]] = figures
        vad = time_vad_only(built["narrow"])
        vad["realtime_factor"] = round(audio_s / vad["wall_s"])
        result["vad_only"] = vad
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        result["rss_before_mb"] = round(rss_before)
        tracemalloc.start()
        list(segment_file(built["wide"]))
        result["python_alloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2 ** 20, 1)
        tracemalloc.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", help="RAVDESS 16 kHz folder (Actor_*/*.flac)")
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(run(args.data_dir, args.minutes), indent=2))


if __name__ == "__main__":
    main()
