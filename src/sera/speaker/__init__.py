"""Who speaks when: a speaker encoder (GE2E, run by onnxruntime) and diarization.

:mod:`sera.speaker.encoder` turns speech into 256-dimensional speaker embeddings;
:mod:`sera.speaker.diarize` splits utterances where the voice changes and clusters them into
speakers ``S1``, ``S2``, ... in order of first appearance.
"""
