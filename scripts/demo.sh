#!/usr/bin/env bash
# The whole job on the built-in synthetic corpus: corpus -> features -> train -> evaluate
# -> HTML report -> predict. Everything it writes goes under $1 (default build/demo).
set -euo pipefail
out=${1:-build/demo}
sera=.venv/bin/sera
mkdir -p "$out"
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "1. a synthetic corpus (machine-made speech, 8 speakers x 7 emotions)"
$sera corpus synth "$out/synth" --speakers 8 --per-emotion 6 --seed 0
$sera corpus scan "$out/synth"

step "2. plots of the corpus"
$sera plot distribution "$out/synth" --out "$out/distribution.png"
$sera plot spectrograms "$out/synth" --out "$out/spectrograms.png"

step "3. train the default recipe on a speaker-independent split"
$sera train "$out/synth" --out "$out/model" --cache "$out/cache" --workers 2

step "4. evaluate with an HTML report (speakers heard in training are left out)"
$sera evaluate "$out/model" "$out/synth" --report "$out/report.html" --json > "$out/metrics.json"

step "5. predict a few clips"
$sera predict --model "$out/model" "$out/synth/synthetic-f1/synthetic-f1_angry_00.wav" \
    "$out/synth/synthetic-m1/synthetic-m1_sad_00.wav" "$out/synth/synthetic-f2/synthetic-f2_happy_00.wav"

step "6. a conversation: four synthetic utterances with pauses -> one emotion per utterance"
.venv/bin/python - "$out" <<'PY'
import sys
import numpy as np
import soundfile as sf
out = sys.argv[1]
clips = ["synthetic-f1/synthetic-f1_angry_01", "synthetic-m2/synthetic-m2_sad_01",
         "synthetic-f3/synthetic-f3_happy_01", "synthetic-m4/synthetic-m4_fear_01"]
pause = np.zeros(16000, dtype=np.float32)
parts = [part for clip in clips for part in (sf.read(f"{out}/synth/{clip}.wav", dtype="float32")[0], pause)]
sf.write(f"{out}/conversation.wav", np.concatenate(parts), 16000)
PY
$sera analyze --model "$out/model" "$out/conversation.wav" --srt --plot "$out/timeline.png"

step "done: open $out/report.html"
