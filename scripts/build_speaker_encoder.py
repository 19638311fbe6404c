"""Convert Resemblyzer's pretrained GE2E speaker encoder to the ONNX file sera ships, and fit
the speaker space on corpora.

    python scripts/build_speaker_encoder.py [--out src/sera/speaker/ge2e.onnx]
    python scripts/build_speaker_encoder.py --space ../shared/data/ravdess16k ../shared/data/nemo16k

Resemblyzer (Apache-2.0, https://github.com/resemble-ai/Resemblyzer) carries its weights in its
wheel (``resemblyzer/pretrained.pt``): a 3-layer LSTM (256 units) over 40 mel bands, a linear
layer to 256 dimensions, ReLU and L2 normalisation. Install it without its dependencies
(``pip install --no-deps resemblyzer``; only torch is needed here). The graph built here takes
the power spectrogram instead of the mel spectrogram: the mel filter bank (librosa's, as
Resemblyzer computes it) is a constant matrix product at the head of the graph, so inference
needs only a numpy STFT (:mod:`sera.speaker.encoder`).

The export is reproducible: fixed opset, fixed names, the TorchScript exporter (no random
names), and the same weights give the same bytes (the script prints the SHA-256).

``--space`` embeds every clip of the corpora (their speech, as the VAD finds it) with the shipped
ONNX encoder and fits :class:`sera.speaker.diarize.SpeakerSpace` on them (the speaker of each
clip from the corpus adapter), written to ``src/sera/speaker/space.npz``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import warnings
from pathlib import Path

OPSET = 17
OUT = Path(__file__).resolve().parents[1] / "src" / "sera" / "speaker" / "ge2e.onnx"
SPACE_OUT = OUT.with_name("space.npz")


def build(out: Path = OUT) -> str:
    """Write the ONNX graph to ``out``; return its SHA-256."""
    import librosa
    import numpy as np
    import torch
    from torch import nn

    spec = importlib.util.find_spec("resemblyzer")
    if spec is None:
        raise SystemExit("resemblyzer is not installed: pip install --no-deps resemblyzer")
    weights = Path(spec.submodule_search_locations[0]) / "pretrained.pt"
    state = torch.load(weights, map_location="cpu")["model_state"]

    from sera.speaker.encoder import HOP, MEL_BANDS, N_FFT, SAMPLE_RATE

    class GE2E(nn.Module):
        def __init__(self):
            super().__init__()
            mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=MEL_BANDS)
            self.register_buffer("mel", torch.from_numpy(mel.T.astype(np.float32)))
            self.lstm = nn.LSTM(MEL_BANDS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)

        def forward(self, power):
            _, (hidden, _) = self.lstm(power @ self.mel)
            embedding = torch.relu(self.linear(hidden[-1]))
            return embedding / torch.linalg.vector_norm(embedding, dim=1, keepdim=True)

    model = GE2E().eval()
    missing = model.load_state_dict({k: v for k, v in state.items()
                                     if k.split(".")[0] in ("lstm", "linear")}, strict=False)
    if [k for k in missing.missing_keys if k != "mel"] or missing.unexpected_keys:
        raise SystemExit(f"unexpected weights in {weights}: {missing}")
    del HOP  # the hop is the front end's business, not the graph's
    probe = torch.zeros(2, 160, N_FFT // 2 + 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the legacy exporter is the reproducible one
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (probe,), str(out), dynamo=False, opset_version=OPSET,
                          input_names=["power"], output_names=["embedding"],
                          dynamic_axes={"power": {0: "batch", 1: "frames"},
                                        "embedding": {0: "batch"}},
                          do_constant_folding=True)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def corpus_embeddings(manifest, cache: Path | None = None):
    """GE2E embeddings ``(n, 256)`` of the manifest's clips, kept in ``cache`` (an ``.npz`` keyed
    by path) between runs."""
    import numpy as np

    from sera.speaker.encoder import embed_file

    known = {}
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            known = dict(zip(data["paths"].tolist(), data["embeddings"], strict=True))
    missing = [p for p in manifest["path"] if p not in known]
    known.update((path, embed_file(path)) for path in missing)
    if cache is not None and missing:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f".{cache.name}.partial.npz")
        np.savez(partial, paths=np.array(list(known)), embeddings=np.stack(list(known.values())))
        partial.replace(cache)
    return np.stack([known[p] for p in manifest["path"]])


def speakers_of(data_dir: Path):
    """``path, speaker`` of every clip of a corpus: any layout :func:`sera.corpora.scan` knows, or
    nEMO's (``samples/*.flac`` with ``data.tsv``)."""
    import pandas as pd

    from sera.corpora import scan

    table = Path(data_dir) / "data.tsv"
    if table.is_file():
        rows = pd.read_csv(table, sep="\t")
        return pd.DataFrame({
            "path": [str((Path(data_dir) / "samples" / f).resolve()) for f in rows["file_id"]],
            "speaker": ["nemo-" + s.strip() for s in rows["speaker_id"]]})
    return scan(data_dir).manifest[["path", "speaker"]]


def build_space(data_dirs: list[Path], out: Path = SPACE_OUT, cache: Path | None = None) -> str:
    """Fit the speaker space on every clip of the corpora; return the file's SHA-256."""
    import pandas as pd

    from sera.speaker.diarize import SpeakerSpace

    manifest = pd.concat([speakers_of(d) for d in data_dirs], ignore_index=True)
    space = SpeakerSpace.fit(corpus_embeddings(manifest, cache), manifest["speaker"])
    space.save(out)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--space", type=Path, nargs="+", metavar="CORPUS",
                        help="fit the speaker space on these corpora instead")
    parser.add_argument("--cache", type=Path, help="an .npz that keeps clip embeddings")
    args = parser.parse_args()
    if args.space:
        digest = build_space(args.space, cache=args.cache)
        print(f"{SPACE_OUT}: sha256 {digest}")
        return
    digest = build(args.out)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB, sha256 {digest}")


if __name__ == "__main__":
    main()
