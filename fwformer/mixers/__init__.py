"""Token mixers by name. Importing this package registers every mixer module below."""
from fwformer.mixers.attention import AttentionOptions
from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import FAMILIES, MIXERS, check_mixer, create_mixer, known_names

# Registration happens on import; each module is one mixer family.
from fwformer.mixers import (  # noqa: E402,F401
    axial, dwtc, fatm, fourier, hartley, hyena, identity, local, qk, spectral, spike_driven, ssa, wavefilter,
    wavefilter_learned, wavelet, wavspa,
)

__all__ = ["AttentionOptions", "Mixer", "MixerCard", "MIXERS", "FAMILIES", "check_mixer", "create_mixer",
           "known_names"]
