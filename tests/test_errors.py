"""One validation mechanism: the checks of sera.errors, the options they check against, and the
error types that keep ``except ValueError`` callers working."""

from __future__ import annotations

import math
import re
import typing

import numpy as np
import pytest

from sera import options
from sera.errors import (
    DaskError,
    FeatureError,
    InputError,
    LeakageError,
    OpenSmileError,
    SeraError,
    SplitError,
    UnknownModelError,
    check_choice,
    check_positive,
    check_range,
    check_type,
)


def test_check_choice_returns_the_choice_and_names_every_allowed_value():
    assert check_choice("adaptation", "corpus", options.ADAPTS) == "corpus"
    # A numpy string (a manifest cell) is accepted and handed back as the plain choice.
    assert type(check_choice("adaptation", np.str_("speaker"), options.ADAPTS)) is str
    with pytest.raises(InputError) as caught:
        check_choice("adaptation", "spekaer", options.ADAPTS)
    assert str(caught.value) == ("unknown adaptation 'spekaer'; choose one of none, recording, "
                                 "speaker, corpus")


@pytest.mark.parametrize("value", [None, "", "Speaker", ["speaker"], 1])
def test_check_choice_refuses_near_misses(value):
    with pytest.raises(InputError, match="choose one of"):
        check_choice("adaptation", value, options.ADAPTS)


def test_check_choice_raises_the_error_type_asked_for():
    with pytest.raises(UnknownModelError, match="unknown model 'svn'"):
        check_choice("model", "svn", ("svm",), error=UnknownModelError)


@pytest.mark.parametrize("value", [0, -1, -0.5, math.nan, math.inf, True, "1", None])
def test_check_positive_refuses_what_is_not_a_positive_finite_number(value):
    message = f"^n_fft must be a positive number, not {re.escape(repr(value))}$"
    with pytest.raises(InputError, match=message):
        check_positive("n_fft", value)


@pytest.mark.parametrize("value", [1, 0.001, np.float32(2.0), np.int64(512)])
def test_check_positive_keeps_positive_numbers(value):
    assert check_positive("n_fft", value) == value


def test_check_range_is_inclusive_and_finite():
    assert check_range("threshold", 0, 0, 1) == 0 and check_range("threshold", 1, 0, 1) == 1
    assert check_range("prior_weight", 0.0, 0) == 0.0
    for bad in (-1e-9, 1.0001, math.nan):
        with pytest.raises(InputError, match="threshold must be a number from 0 to 1"):
            check_range("threshold", bad, 0, 1)
    with pytest.raises(InputError, match="prior_weight must be a number of at least 0, not inf"):
        check_range("prior_weight", math.inf, 0)


def test_check_type_treats_bool_as_no_int():
    assert check_type("seed", 3, int) == 3
    assert check_type("skew", True, bool) is True
    with pytest.raises(InputError, match="^seed must be int, not True$"):
        check_type("seed", True, int)
    with pytest.raises(InputError, match="^data must be tuple or list, not 'x'$"):
        check_type("data", "x", tuple, list)


def test_each_option_tuple_is_its_literal_in_order():
    pairs = [(options.Adapt, options.ADAPTS), (options.Split, options.SPLITS),
             (options.Balance, options.BALANCES), (options.Calibration, options.CALIBRATIONS),
             (options.Estimator, options.ESTIMATORS), (options.Augment, options.AUGMENTS)]
    for alias, values in pairs:
        assert values == typing.get_args(alias) and len(set(values)) == len(values)
    assert options.AUGMENTS == options.SEED_AUGMENTS + options.CHANNEL_AUGMENTS
    assert set(options.RECORDING_ADAPTS) < set(options.ADAPTS)


def test_option_tables_of_other_modules_cover_exactly_the_options():
    from sera.augment import CODEC_FORMATS, COLOUR_EXPONENTS, PHONE_CODECS
    from sera.train import CALIBRATION_FOLDS_BY

    assert tuple(CODEC_FORMATS) == options.CODECS
    assert tuple(COLOUR_EXPONENTS) == options.NOISE_COLOURS
    assert set(PHONE_CODECS) <= set(options.CODECS)
    assert set(CALIBRATION_FOLDS_BY) | {"none"} == set(options.CALIBRATIONS)


@pytest.mark.parametrize(("error", "bases"), [
    (FeatureError, (InputError, ValueError)), (UnknownModelError, (InputError, ValueError)),
    (SplitError, (InputError, ValueError)), (LeakageError, (SplitError, ValueError)),
    (OpenSmileError, (SeraError, RuntimeError)), (DaskError, (SeraError,)),
])
def test_error_types_live_in_errors_and_keep_their_bases(error, bases):
    assert error.__module__ == "sera.errors"
    assert issubclass(error, SeraError) and all(issubclass(error, base) for base in bases)


def test_no_module_defines_an_error_type_outside_errors():
    import sera.features.sets
    import sera.features.smile
    import sera.models
    import sera.scale
    import sera.splits

    for module in (sera.features.sets, sera.features.smile, sera.models, sera.scale, sera.splits):
        own = [name for name, value in vars(module).items()
               if isinstance(value, type) and issubclass(value, Exception)
               and not issubclass(value, Warning) and value.__module__ == module.__name__]
        assert own == [], (module.__name__, own)


def test_the_docstring_examples_of_errors_and_options_hold():
    import doctest

    import sera.errors

    for module in (sera.errors, options):
        result = doctest.testmod(module)
        assert result.attempted and not result.failed, module.__name__
