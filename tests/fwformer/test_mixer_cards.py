"""Every registered mixer declares a complete card, and the parameter formula the documentation's mixer
reference prints (fitted on built mixers, `docs/gen/param_formula.py`) holds at widths it was not fitted on."""
from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

from fwformer.mixers import FAMILIES, MIXERS, MixerCard, check_mixer
from fwformer.mixers.hybrid import HybridMixer
from fwformer.mixers.registry import resolve_mixer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs" / "gen"))
import param_formula  # noqa: E402

REGISTERED = [(name, cls) for name, cls in sorted(MIXERS.items())] + [(p, cls) for p, cls in sorted(FAMILIES.items())]
SAMPLES = sorted(MIXERS) + sorted({n for cls in FAMILIES.values() if cls.card for n in cls.card.examples}) + list(
    HybridMixer.card.examples)


@pytest.mark.parametrize("name, cls", REGISTERED + [("<a>+<b>", HybridMixer)], ids=lambda v: getattr(v, "__name__", v))
def test_every_registered_class_declares_a_complete_card(name, cls):
    # Declared on the class itself: a subclass registered under a new name must not inherit another's card.
    card = vars(cls).get("card")
    assert isinstance(card, MixerCard), f"{name}: {cls.__name__} declares no MixerCard of its own"
    for field in ("computes", "paper", "code"):
        assert getattr(card, field).strip(), f"{name}: the card's {field} is empty"


@pytest.mark.parametrize("cls", sorted({cls for _, cls in REGISTERED}, key=lambda c: c.__name__),
                         ids=lambda c: c.__name__)
def test_a_cards_examples_are_names_of_its_class(cls):
    for example in cls.card.examples:
        check_mixer(example, grid=param_formula.GRID)
        assert resolve_mixer(example)[0] is cls, f"{example} is not a {cls.__name__}"


def test_a_card_rejects_an_unknown_block_convention():
    with pytest.raises(ValueError, match=r"MixerCard.shortcut must be one of: spike, membrane or None, but got 'spikes'"):
        MixerCard(computes="x", paper="p", code="c", shortcut="spikes")


@pytest.mark.parametrize("name", SAMPLES)
def test_the_parameter_formula_holds_at_a_width_it_was_not_fitted_on(name):
    coefficients = param_formula.fit(name)
    for width in (80, 128):
        assert width not in param_formula.WIDTHS
        assert param_formula.evaluate(coefficients, width) == param_formula.parameter_count(name, width), name


@pytest.mark.parametrize("name, count", [
    ("ssa", 594_432),  # Spikformer-4-384's block: 4D^2 + 12D
    ("fatm", 133_056),  # SWformer at b = 4: D^2/b + 10 s^2 + 2 s + 10 D
    ("hyena2d", 640_536),  # the reference's 636,696 plus our BNs' 10 D
    ("sdsa", 593_280),  # 4D^2 + 9D: the reference's unused talking-heads conv is not built
])
def test_the_formula_gives_the_published_counts_at_384(name, count):
    assert param_formula.evaluate(param_formula.fit(name), 384) == count == param_formula.parameter_count(
        name, 384, heads=8)


@pytest.mark.parametrize("coefficients, text", [
    ((Fraction(0), Fraction(12), Fraction(4)), "4D² + 12D"),
    ((Fraction(0), Fraction(21, 2), Fraction(7, 8)), "7D²/8 + 21D/2"),
    ((Fraction(8856), Fraction(109), Fraction(4)), "4D² + 109D + 8,856"),
    ((Fraction(3), Fraction(2)), "2D + 3"),
    ((Fraction(0), Fraction(1)), "D"),
    ((Fraction(0),), "0"),
])
def test_formula_text(coefficients, text):
    assert param_formula.formula_text(coefficients) == text


def test_solve_recovers_a_cubic_exactly():
    cubic = (Fraction(5), Fraction(-3, 2), Fraction(0), Fraction(2, 3))
    widths = param_formula.WIDTHS
    assert param_formula.solve(widths, [param_formula.evaluate(cubic, w) for w in widths]) == cubic
