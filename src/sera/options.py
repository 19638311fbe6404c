"""Every string option sera takes: one ``Literal`` alias each, and the tuple of its values.

The alias types the public signatures (``adapt: Adapt = "speaker"``); the tuple, derived from it
by :func:`typing.get_args` so that the two cannot disagree, is what
:func:`sera.errors.check_choice` checks a value against and what error messages and ``--help``
list, in this order::

    >>> from sera.errors import InputError, check_choice
    >>> try:
    ...     check_choice("adaptation", "spekaer", ADAPTS)
    ... except InputError as error:
    ...     print(error)
    unknown adaptation 'spekaer'; choose one of none, recording, speaker, corpus
"""

from __future__ import annotations

from typing import Literal, get_args

#: How features are normalised: by the training statistics alone, or by each recording's,
#: speaker's or corpus's own (:mod:`sera.adapt`), from the least to the most adapted.
Adapt = Literal["none", "recording", "speaker", "corpus"]
ADAPTS: tuple[Adapt, ...] = get_args(Adapt)

#: The adaptations that make sense within one recording: none, the whole recording, or each
#: (diarized) speaker of it (:mod:`sera.conversation`).
RecordingAdapt = Literal["none", "recording", "speaker"]
RECORDING_ADAPTS: tuple[RecordingAdapt, ...] = get_args(RecordingAdapt)

#: How a group's location and spread are estimated: mean and standard deviation, or median and
#: inter-quartile range (:class:`sera.adapt.Normalizer`).
Estimator = Literal["mean", "median"]
ESTIMATORS: tuple[Estimator, ...] = get_args(Estimator)

#: Which of a group's clips its statistics come from besides all of them (``None``): its
#: neutral ones (:mod:`sera.adapt`).
Reference = Literal["neutral"]
REFERENCES: tuple[Reference, ...] = get_args(Reference)

#: Train/test protocols of ``sera train --split`` (:mod:`sera.splits`).
Split = Literal["speaker", "loso", "corpus", "random", "none"]
SPLITS: tuple[Split, ...] = get_args(Split)

#: How training rows weigh in the loss: alike, or every corpus the same in total.
Balance = Literal["none", "corpus"]
BALANCES: tuple[Balance, ...] = get_args(Balance)

#: How a bundle's temperature is fitted: on out-of-fold predictions of the training speakers,
#: on leave-one-corpus-out ones, or not at all (:mod:`sera.calibration`).
Calibration = Literal["temperature", "temperature-corpus", "none"]
CALIBRATIONS: tuple[Calibration, ...] = get_args(Calibration)

#: Whose voices the ``channel`` augmentation's babble is made of: the clip's own, reversed, or
#: other training speakers' (:class:`sera.augment.Augmenter`'s ``crowd``).
Babble = Literal["self", "others"]
BABBLES: tuple[Babble, ...] = get_args(Babble)

#: The seed's four waveform augmentations, in its order (:mod:`sera.augment`).
SeedAugment = Literal["noise", "stretch", "shift", "pitch"]
SEED_AUGMENTS: tuple[SeedAugment, ...] = get_args(SeedAugment)

#: Channel and codec augmentations: recording conditions, applied to the decoded file.
ChannelAugment = Literal["bandlimit", "codec", "gain", "snr", "room", "floor", "channel"]
CHANNEL_AUGMENTS: tuple[ChannelAugment, ...] = get_args(ChannelAugment)

#: Every augmentation :class:`sera.augment.Augmenter` makes.
Augment = Literal[SeedAugment, ChannelAugment]
AUGMENTS: tuple[Augment, ...] = get_args(Augment)

#: Lossy codecs of :func:`sera.augment.lossy_round_trip`.
Codec = Literal["mp3", "ogg", "opus", "ulaw"]
CODECS: tuple[Codec, ...] = get_args(Codec)

#: Noises of :func:`sera.augment.add_noise`: Gaussian, or other voices.
Noise = Literal["white", "babble"]
NOISES: tuple[Noise, ...] = get_args(Noise)

#: Colours of noise: white, pink (power ~ 1/f) and brown (~ 1/f**2).
NoiseColour = Literal["white", "pink", "brown"]
NOISE_COLOURS: tuple[NoiseColour, ...] = get_args(NoiseColour)

#: Optimizers of the torch models (:class:`sera.models.torch_train.TorchClassifier`).
Optimizer = Literal["adam", "rmsprop"]
OPTIMIZERS: tuple[Optimizer, ...] = get_args(Optimizer)
