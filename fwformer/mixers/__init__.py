"""Token mixers by name. Importing this package registers every mixer module below."""
from fwformer.mixers.base import Mixer
from fwformer.mixers.registry import FAMILIES, MIXERS, check_mixer, create_mixer, known_names

# Registration happens on import; each module is one mixer family.
from fwformer.mixers import dwtc, fourier, identity, learned_wavelet, ssa, wavelet  # noqa: E402,F401

__all__ = ["Mixer", "MIXERS", "FAMILIES", "check_mixer", "create_mixer", "known_names"]
