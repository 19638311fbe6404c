"""Corpus adapters and layout detection, on tiny generated files that follow the real names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

import sera.cli.corpus  # noqa: F401  registers `sera corpus scan`
from sera.cli._app import app
from sera.corpora import COLUMNS, ScanResult, cremad, emodb, scan, write_manifest
from sera.errors import CorpusError
from sera.labels import LABELS

SR = 16000


def write_audio(path: Path, seconds: float = 0.01, **kwargs) -> Path:
    """A few milliseconds of noise, in the format the extension implies unless given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    y = 0.1 * np.random.default_rng(len(str(path))).standard_normal(int(seconds * SR))
    sf.write(path, y.astype(np.float32), SR, **kwargs)
    return path


def make_tree(root: Path, names: list[str]) -> Path:
    for name in names:
        write_audio(root / name)
    return root


def by_name(result: ScanResult) -> dict[str, dict]:
    """Manifest rows keyed by file name."""
    rows = result.manifest.to_dict("records")
    return {Path(row["path"]).name: row for row in rows}


def reasons(result: ScanResult) -> dict[str, str]:
    return {Path(path).name: reason for path, reason in result.skipped}


# --- RAVDESS -------------------------------------------------------------------------------


def test_ravdess_shared_counts(ravdess_dir):
    result = scan(ravdess_dir)
    summary = result.summary()
    assert summary["n"] == 1080
    assert len(summary["by_speaker"]) == 18
    assert summary["by_emotion"]["neutral"] == 216
    assert {label: n for label, n in summary["by_emotion"].items() if label != "neutral"} == {
        label: 144 for label in LABELS if label != "neutral"}
    assert summary["by_gender"] == {"female": 540, "male": 540}
    assert summary["by_corpus"] == {"ravdess": 1080}
    assert summary["skipped"] == []
    frame = result.manifest
    assert list(frame.columns) == list(COLUMNS)
    assert frame["path"].tolist() == sorted(frame["path"])
    assert all(os.path.isabs(path) for path in frame["path"])
    actor = frame["path"].str.extract(r"Actor_(\d\d)")[0]
    assert (frame["speaker"] == "ravdess-" + actor).all()


def test_ravdess_cli_json_and_manifest(ravdess_dir, tmp_path):
    out = tmp_path / "manifest.csv"
    result = CliRunner().invoke(app, ["corpus", "scan", str(ravdess_dir), "--json",
                                      "--manifest", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) == {"n", "by_emotion", "by_speaker", "by_gender", "by_corpus", "skipped"}
    assert summary["n"] == 1080 and len(summary["by_speaker"]) == 18
    assert summary["by_emotion"]["neutral"] == 216 and summary["by_emotion"]["sad"] == 144
    written = pd.read_csv(out)
    assert len(written) == 1080 and list(written.columns) == list(COLUMNS)


def test_ravdess_generated_names(tmp_path):
    root = make_tree(tmp_path, [
        "Actor_01/03-01-02-02-01-01-01.wav",   # calm -> neutral, actor 1 male
        "Actor_02/03-01-08-01-02-02-02.wav",   # surprised, actor 2 female
        "Actor_02/03-02-03-01-01-01-02.wav",   # song
        "Actor_02/03-01-09-01-01-01-02.wav",   # no such emotion
    ])
    result = scan(root)
    rows = by_name(result)
    calm = rows["03-01-02-02-01-01-01.wav"]
    assert (calm["emotion"], calm["speaker"], calm["gender"]) == ("neutral", "ravdess-01", "male")
    assert (calm["intensity"], calm["text"]) == ("strong", "Kids are talking by the door")
    surprised = rows["03-01-08-01-02-02-02.wav"]
    assert (surprised["emotion"], surprised["gender"]) == ("surprise", "female")
    assert surprised["text"] == "Dogs are sitting by the door"
    why = reasons(result)
    assert "song" in why["03-02-03-01-01-01-02.wav"]
    assert "unknown RAVDESS emotion code '09'" in why["03-01-09-01-01-01-02.wav"]


# --- nEMO ----------------------------------------------------------------------------------


def test_nemo_shared_counts(nemo_dir):
    summary = scan(nemo_dir).summary()
    assert summary["n"] == 3403 and summary["skipped"] == []
    assert summary["by_corpus"] == {"nemo": 3403}
    assert summary["by_emotion"] == {"angry": 569, "disgust": 0, "fear": 557, "happy": 570,
                                     "neutral": 629, "sad": 589, "surprise": 489}
    assert summary["by_speaker"] == {"nemo-EB0": 539, "nemo-KD0": 540, "nemo-KS0": 540,
                                     "nemo-MK0": 450, "nemo-MP0": 256, "nemo-TP0": 539,
                                     "nemo-WR0": 539}
    assert summary["by_gender"] == {"female": 539 + 540 + 450, "male": 540 + 256 + 539 + 539}


def test_nemo_cli_scan_counts(nemo_dir):
    result = CliRunner().invoke(app, ["corpus", "scan", str(nemo_dir), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n"] == 3403 and len(summary["by_speaker"]) == 7


def test_nemo_generated_files(tmp_path):
    root = make_tree(tmp_path / "nemo", [
        "samples/EB0_anger_1.flac", "samples/KS0_surprised_7.flac",
        "samples/MK0_happiness_2.flac", "samples/WR0_disgust_3.flac",
        "samples/TP0_sadness_4.flac",
    ])
    (root / "data.tsv").write_text(
        "file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage\n"
        "EB0_anger_1.flac\tanger\tIdę do domu.\tidę do domu\t        EB0\tfemale\t27\n"
        "KS0_surprised_7.flac\tsurprised\tNie wiem.\tnie wiem\t        KS0\tmale\t23\n"
        "MK0_happiness_2.flac\thappiness\tTak.\ttak\t        MK0\tfemale\t25\n"
        "TP0_sadness_4.flac\tsadness\tNie.\tnie\t        WR0\tmale\t25\n",
        encoding="utf-8")
    result = scan(root)
    rows = by_name(result)
    anger = rows["EB0_anger_1.flac"]
    assert (anger["corpus"], anger["speaker"], anger["gender"], anger["emotion"]) == (
        "nemo", "nemo-EB0", "female", "angry")
    assert anger["text"] == "Idę do domu."
    assert (rows["KS0_surprised_7.flac"]["emotion"], rows["KS0_surprised_7.flac"]["gender"]) == (
        "surprise", "male")
    assert rows["MK0_happiness_2.flac"]["emotion"] == "happy"
    why = reasons(result)
    assert "unknown nEMO emotion 'disgust'" in why["WR0_disgust_3.flac"]
    # data.tsv and the file name disagree on the speaker: skipped, not guessed.
    assert "speaker" in why["TP0_sadness_4.flac"]


def test_nemo_without_metadata_has_unknown_gender(tmp_path):
    root = make_tree(tmp_path / "nemo", ["samples/KD0_fear_9.flac"])
    row = by_name(scan(root))["KD0_fear_9.flac"]
    assert (row["speaker"], row["gender"], row["emotion"], row["text"]) == (
        "nemo-KD0", "unknown", "fear", None)


# --- EMOVO and ASED ------------------------------------------------------------------------


def test_emovo_shared_counts(emovo_dir):
    result = scan(emovo_dir)
    summary = result.summary()
    assert summary["n"] == 588 and summary["skipped"] == []
    assert summary["by_corpus"] == {"emovo": 588}
    # 6 actors x 14 sentences per state, all seven labels.
    assert summary["by_emotion"] == {label: 84 for label in LABELS}
    assert summary["by_speaker"] == {f"emovo-{a}": 98 for a in ("f1", "f2", "f3", "m1", "m2",
                                                                 "m3")}
    assert summary["by_gender"] == {"female": 294, "male": 294}


def test_emovo_generated_files(tmp_path):
    root = make_tree(tmp_path / "EMOVO", [
        "f1/dis-f1-b1.wav", "m3/gio-m3-n5.wav", "f2/pau-f2-l4.wav", "m1/rab-m1-d2.wav",
        "f3/sor-f3-b3.wav", "m2/tri-m2-n1.wav", "f1/neu-f1-d1.wav", "f1/xyz-f1-b1.wav",
    ])
    result = scan(root)
    rows = by_name(result)
    assert {name: row["emotion"] for name, row in rows.items()} == {
        "dis-f1-b1.wav": "disgust", "gio-m3-n5.wav": "happy", "pau-f2-l4.wav": "fear",
        "rab-m1-d2.wav": "angry", "sor-f3-b3.wav": "surprise", "tri-m2-n1.wav": "sad",
        "neu-f1-d1.wav": "neutral"}
    assert (rows["gio-m3-n5.wav"]["speaker"], rows["gio-m3-n5.wav"]["gender"]) == (
        "emovo-m3", "male")
    assert rows["dis-f1-b1.wav"]["gender"] == "female"
    assert "unknown EMOVO state 'xyz'" in reasons(result)["xyz-f1-b1.wav"]


def test_ased_shared_counts(ased_dir):
    result = scan(ased_dir)
    summary = result.summary()
    assert summary["n"] == 1724 and summary["skipped"] == []
    assert summary["by_corpus"] == {"ased": 1724}
    assert summary["by_emotion"] == {"angry": 336, "disgust": 0, "fear": 360, "happy": 336,
                                     "neutral": 372, "sad": 320, "surprise": 0}
    assert len(summary["by_speaker"]) == 50
    manifest = result.manifest
    # Speakers 09, 15, 21, 23, 25 each have one file with the other gender code: one gender each.
    assert manifest.groupby("speaker")["gender"].nunique().max() == 1
    assert manifest.groupby("gender")["speaker"].nunique().to_dict() == {"female": 23, "male": 27}
    # The one file of the release that writes its code in capitals ("S4") is sad.
    capital = manifest[manifest["path"].str.endswith("S4-04-02-01-29.ogg")]
    assert capital["emotion"].tolist() == ["sad"]


def test_ased_generated_files_take_each_speakers_majority_gender(tmp_path):
    root = make_tree(tmp_path / "ASED", [
        "01Neutral/n1-01-01-01-09.wav", "02Fearful/f2-02-01-01-09.wav",
        "03Happy/h3-03-02-02-09.wav", "04Sad/S4-04-02-01-29.wav", "05Angry/a5-05-01-02-07.wav",
        "05Angry/d6-05-01-02-07.wav",
    ])
    result = scan(root)
    rows = by_name(result)
    # Speaker 09: two files say female, one says male.
    assert {rows[n]["gender"] for n in ("n1-01-01-01-09.wav", "f2-02-01-01-09.wav",
                                        "h3-03-02-02-09.wav")} == {"female"}
    assert (rows["h3-03-02-02-09.wav"]["speaker"], rows["h3-03-02-02-09.wav"]["emotion"]) == (
        "ased-09", "happy")
    assert (rows["S4-04-02-01-29.wav"]["emotion"], rows["a5-05-01-02-07.wav"]["gender"]) == (
        "sad", "male")
    assert "unknown ASED emotion code 'd6'" in reasons(result)["d6-05-01-02-07.wav"]


# --- CREMA-D -------------------------------------------------------------------------------


def test_cremad(tmp_path):
    root = make_tree(tmp_path / "CREMA-D", [
        "AudioWAV/1001_DFA_ANG_XX.wav",
        "AudioWAV/1002_IEO_HAP_HI.wav",
        "AudioWAV/1091_WSI_SAD_LO.wav",
        "AudioWAV/1005_TIE_NEU_MD.wav",
        "AudioWAV/1001_DFA_SUR_XX.wav",
    ])
    result = scan(root)
    rows = by_name(result)
    assert len(rows) == 4
    first = rows["1001_DFA_ANG_XX.wav"]
    assert (first["corpus"], first["speaker"], first["gender"], first["emotion"]) == (
        "cremad", "cremad-1001", "male", "angry")
    assert (first["intensity"], first["text"]) == ("unspecified", "Don't forget a jacket")
    assert (rows["1002_IEO_HAP_HI.wav"]["gender"], rows["1002_IEO_HAP_HI.wav"]["emotion"],
            rows["1002_IEO_HAP_HI.wav"]["intensity"]) == ("female", "happy", "high")
    assert rows["1091_WSI_SAD_LO.wav"]["gender"] == "female"
    assert rows["1005_TIE_NEU_MD.wav"]["emotion"] == "neutral"
    assert reasons(result) == {"1001_DFA_SUR_XX.wav": "unknown CREMA-D emotion code 'SUR'"}


def test_cremad_gender_table_matches_the_corpus_counts():
    # CREMA-D: 91 actors, 48 male and 43 female (Cao et al. 2014).
    assert sorted(cremad.GENDERS) == [str(actor) for actor in range(1001, 1092)]
    assert list(cremad.GENDERS.values()).count("male") == 48
    assert list(cremad.GENDERS.values()).count("female") == 43


# --- TESS ----------------------------------------------------------------------------------


def test_tess_folder_spellings(tmp_path):
    root = make_tree(tmp_path / "TESS", [
        "OAF_angry/OAF_back_angry.wav",
        "OAF_Fear/OAF_back_fear.wav",
        "OAF_Pleasant_surprise/OAF_back_ps.wav",
        "YAF_pleasant_surprised/YAF_bean_ps.wav",
        "YAF_neutral/YAF_bath_neutral.wav",
        "YAF_disgust/YAF_chat_disgusted.wav",   # odd file name: the folder says disgust
        "OAF_calm/OAF_back_calm.wav",
    ])
    result = scan(root)
    rows = by_name(result)
    assert {name: row["emotion"] for name, row in rows.items()} == {
        "OAF_back_angry.wav": "angry",
        "OAF_back_fear.wav": "fear",
        "OAF_back_ps.wav": "surprise",
        "YAF_bean_ps.wav": "surprise",
        "YAF_bath_neutral.wav": "neutral",
        "YAF_chat_disgusted.wav": "disgust",
    }
    assert set(result.manifest["speaker"]) == {"tess-OAF", "tess-YAF"}
    assert set(result.manifest["gender"]) == {"female"}
    assert rows["YAF_bean_ps.wav"]["text"] == "Say the word bean"
    assert reasons(result) == {"OAF_back_calm.wav": "unknown TESS emotion 'calm'"}


# --- SAVEE ---------------------------------------------------------------------------------


def test_savee_both_layouts(tmp_path):
    root = make_tree(tmp_path / "SAVEE", [
        "ALL/DC_a01.wav",
        "ALL/JK_sa02.wav",
        "ALL/KL_su15.wav",
        "ALL/DC_x01.wav",
        "AudioData/JE/n03.wav",
        "AudioData/JE/f10.wav",
        "AudioData/DC/a01.wav",   # the same recording as ALL/DC_a01.wav
    ])
    result = scan(root)
    frame = result.manifest.set_index(result.manifest["path"].map(
        lambda p: "/".join(Path(p).parts[-2:])))
    assert frame["emotion"].to_dict() == {
        "ALL/DC_a01.wav": "angry",
        "ALL/JK_sa02.wav": "sad",
        "ALL/KL_su15.wav": "surprise",
        "JE/f10.wav": "fear",
        "JE/n03.wav": "neutral",
    }
    assert frame.loc["JE/n03.wav", "speaker"] == "savee-JE"
    assert set(frame["gender"]) == {"male"}
    why = reasons(result)
    assert why["DC_x01.wav"] == "unknown SAVEE emotion code 'x'"
    assert why["a01.wav"] == f"duplicate of {root / 'ALL' / 'DC_a01.wav'}"


# --- EmoDB ---------------------------------------------------------------------------------


def test_emodb(tmp_path):
    root = make_tree(tmp_path / "emodb", [
        "wav/03a01Fa.wav",
        "wav/08b10Wb.wav",
        "wav/16a05Tc.wav",
        "wav/11b03Ed.wav",
        "wav/09a07Aa.wav",
        "wav/13b09Nb.wav",
        "wav/03a02La.wav",
    ])
    result = scan(root)
    rows = by_name(result)
    found = {name: (row["emotion"], row["speaker"], row["gender"]) for name, row in rows.items()}
    assert found == {
        "03a01Fa.wav": ("happy", "emodb-03", "male"),
        "08b10Wb.wav": ("angry", "emodb-08", "female"),
        "16a05Tc.wav": ("sad", "emodb-16", "female"),
        "11b03Ed.wav": ("disgust", "emodb-11", "male"),
        "09a07Aa.wav": ("fear", "emodb-09", "female"),
        "13b09Nb.wav": ("neutral", "emodb-13", "female"),
    }
    assert rows["03a01Fa.wav"]["text"] == "Der Lappen liegt auf dem Eisschrank."
    assert "boredom" in reasons(result)["03a02La.wav"]


def test_emodb_speakers_are_five_women_five_men():
    assert len(emodb.GENDERS) == 10
    assert sorted(emodb.GENDERS.values()) == ["female"] * 5 + ["male"] * 5


# --- Mixed and bundled layouts ---------------------------------------------------------------


def test_kaggle_bundle_scans_as_one(tmp_path):
    root = make_tree(tmp_path / "bundle", [
        "Crema/1001_DFA_ANG_XX.wav",
        "Crema/1002_IEO_HAP_HI.wav",
        "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-01-01-01-01-01.wav",
        "Ravdess/audio_speech_actors_01-24/Actor_02/03-01-05-01-01-01-02.wav",
        "Savee/DC_a01.wav",
        "Savee/JE_sa01.wav",
        "Tess/OAF_angry/OAF_back_angry.wav",
        "Tess/YAF_pleasant_surprised/YAF_back_ps.wav",
    ])
    summary = scan(root).summary()
    assert summary["by_corpus"] == {"cremad": 2, "ravdess": 2, "savee": 2, "tess": 2}
    assert set(summary["by_speaker"]) == {
        "cremad-1001", "cremad-1002", "ravdess-01", "ravdess-02",
        "savee-DC", "savee-JE", "tess-OAF", "tess-YAF"}
    assert summary["skipped"] == []


def test_audio_extensions_any_case_and_non_audio_ignored(tmp_path):
    root = tmp_path / "Actor_03"
    write_audio(root / "03-01-03-01-01-01-03.WAV", format="WAV")
    write_audio(root / "03-01-04-01-01-01-03.Flac", format="FLAC")
    write_audio(root / "03-01-05-01-01-01-03.ogg", format="OGG")
    write_audio(root / "03-01-06-01-01-01-03.mp3", format="MP3")
    (root / "notes.txt").write_text("not audio")
    (root / "list.csv").write_text("a,b\n1,2\n")
    (root / "._03-01-07-01-01-01-03.wav").write_bytes(b"macOS resource fork")
    result = scan(root)
    assert sorted(result.manifest["emotion"]) == ["angry", "fear", "happy", "sad"]
    assert result.skipped == []


def test_unrecognised_audio_beside_a_corpus_is_skipped_with_reason(tmp_path):
    root = make_tree(tmp_path, ["Actor_01/03-01-03-01-01-01-01.wav", "extra/interview.wav"])
    result = scan(root)
    assert len(result.manifest) == 1
    assert ("no RAVDESS, CREMA-D, TESS, SAVEE, EmoDB, nEMO, EMOVO or ASED"
            in reasons(result)["interview.wav"])


# --- Folder per label ----------------------------------------------------------------------


def test_folder_per_label(tmp_path):
    root = make_tree(tmp_path / "sad" / "mine", [   # 'sad' above the root labels nothing
        "angry/a.wav",
        "Sad/b.wav",
        "spk1/happy/c.wav",
        "female/fearful/d.wav",
        "Pleasant Surprise/e.flac",
        "misc/f.wav",
    ])
    (root / "angry" / "readme.txt").write_text("ignored")
    result = scan(root)
    rows = by_name(result)
    assert {name: row["emotion"] for name, row in rows.items()} == {
        "a.wav": "angry", "b.wav": "sad", "c.wav": "happy", "d.wav": "fear",
        "e.flac": "surprise"}
    assert set(result.manifest["corpus"]) == {"folder"}
    assert rows["c.wav"]["speaker"] == "folder-spk1"
    assert rows["a.wav"]["speaker"] == "folder-unknown"
    assert (rows["d.wav"]["gender"], rows["d.wav"]["speaker"]) == ("female", "folder-unknown")
    assert rows["a.wav"]["gender"] == "unknown"
    assert rows["a.wav"]["intensity"] is None and rows["a.wav"]["text"] is None
    assert list(reasons(result)) == ["f.wav"]


# --- CSV manifest --------------------------------------------------------------------------


def test_csv_manifest_relative_paths(tmp_path):
    root = tmp_path / "synthetic"
    write_audio(root / "clips" / "s01_001.wav")
    write_audio(root / "clips" / "s02_001.wav")
    write_audio(root / "clips" / "s02_002.wav")
    outside = write_audio(tmp_path / "elsewhere" / "x.wav")
    (root / "notes.txt").write_text("not audio")
    pd.DataFrame([
        ["clips/s01_001.wav", "synthetic", "s01", "F", "Anger", "hello"],
        ["clips/s02_001.wav", "synthetic", "s02", "male", "pleasant_surprised", ""],
        [str(outside), "synthetic", "s03", "", "calm", ""],
        ["clips/s02_002.wav", "synthetic", "s02", "male", "boredom", ""],
        ["clips/missing.wav", "synthetic", "s02", "male", "sad", ""],
        ["notes.txt", "synthetic", "s02", "male", "sad", ""],
        ["", "synthetic", "s02", "male", "sad", ""],
    ], columns=["path", "corpus", "speaker", "gender", "emotion", "text"]).to_csv(
        root / "manifest.csv", index=False)
    (root / "clips" / "03-01-01-01-01-01-01.wav").write_bytes(b"")   # the CSV wins over names

    result = scan(root)
    assert result.manifest.equals(scan(root / "manifest.csv").manifest)
    rows = by_name(result)
    assert set(rows) == {"s01_001.wav", "s02_001.wav", "x.wav"}
    assert rows["s01_001.wav"]["path"] == str(root / "clips" / "s01_001.wav")
    assert (rows["s01_001.wav"]["speaker"], rows["s01_001.wav"]["gender"],
            rows["s01_001.wav"]["emotion"], rows["s01_001.wav"]["text"]) == (
        "synthetic-s01", "female", "angry", "hello")
    assert rows["s02_001.wav"]["emotion"] == "surprise"
    assert rows["s02_001.wav"]["text"] is None and rows["s02_001.wav"]["intensity"] is None
    assert (rows["x.wav"]["emotion"], rows["x.wav"]["gender"]) == ("neutral", "unknown")
    why = reasons(result)
    assert why["s02_002.wav"] == "unknown emotion 'boredom'"
    assert why["missing.wav"] == "listed in manifest.csv but not found"
    assert why["notes.txt"] == "not an audio file (extension .txt)"
    assert why["manifest.csv:8"] == "empty path"


def test_csv_without_optional_columns(tmp_path):
    write_audio(tmp_path / "a.wav")
    (tmp_path / "list.csv").write_text("Path,Emotion\na.wav,happy\n")
    row = scan(tmp_path / "list.csv").manifest.iloc[0]
    assert (row["corpus"], row["speaker"], row["gender"], row["emotion"]) == (
        "csv", "csv-unknown", "unknown", "happy")


def test_csv_missing_column_is_one_line(tmp_path):
    (tmp_path / "bad.csv").write_text("file,label\na.wav,happy\n")
    with pytest.raises(CorpusError, match="missing column") as caught:
        scan(tmp_path / "bad.csv")
    assert "\n" not in str(caught.value) and "bad.csv" in str(caught.value)


def test_manifest_round_trip(tmp_path):
    root = make_tree(tmp_path / "bundle", [
        "Crema/1001_DFA_ANG_XX.wav", "Savee/DC_a01.wav", "Tess/OAF_angry/OAF_back_angry.wav",
        "Actor_01/03-01-02-02-01-01-01.wav"])
    first = scan(root)
    out = write_manifest(first.manifest, tmp_path / "out" / "manifest.csv")
    again = scan(out)
    assert again.skipped == []
    pd.testing.assert_frame_equal(first.manifest, again.manifest)


# --- Errors, determinism -------------------------------------------------------------------


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "absent", "no such file or folder"),
    (lambda tmp: tmp, "no audio files"),
    (lambda tmp: write_audio(tmp / "clip.wav"), "not a folder or a CSV manifest"),
    (lambda tmp: write_audio(tmp / "stuff" / "clip.wav").parent.parent, "no recognisable layout"),
])
def test_unusable_paths_raise_one_line(tmp_path, make, message):
    with pytest.raises(CorpusError, match=message) as caught:
        scan(make(tmp_path))
    assert "\n" not in str(caught.value)


def test_relative_path_gives_absolute_sorted_manifest(tmp_path, monkeypatch):
    make_tree(tmp_path / "c", ["1003_IEO_SAD_LO.wav", "1001_IEO_SAD_LO.wav",
                               "1002_IEO_SAD_LO.wav"])
    monkeypatch.chdir(tmp_path)
    frame = scan("c").manifest
    assert frame["path"].tolist() == [str(tmp_path / "c" / f"100{i}_IEO_SAD_LO.wav")
                                      for i in (1, 2, 3)]
    assert frame.index.tolist() == [0, 1, 2]


def test_summary_lists_every_label_and_skipped(tmp_path):
    result = scan(make_tree(tmp_path, ["1001_DFA_ANG_XX.wav", "1001_DFA_FOO_XX.wav"]))
    summary = result.summary()
    assert list(summary["by_emotion"]) == list(LABELS)
    assert summary["by_emotion"]["angry"] == 1 and summary["by_emotion"]["surprise"] == 0
    assert summary["skipped"] == [{"path": str(tmp_path / "1001_DFA_FOO_XX.wav"),
                                   "reason": "unknown CREMA-D emotion code 'FOO'"}]


def test_cli_human_output_goes_to_stderr(tmp_path):
    root = make_tree(tmp_path, ["1001_DFA_ANG_XX.wav", "1001_DFA_FOO_XX.wav"])
    result = CliRunner().invoke(app, ["corpus", "scan", str(root)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "1 utterances" in result.stderr and "unknown CREMA-D emotion code" in result.stderr
