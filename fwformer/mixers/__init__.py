"""Token mixers by name. Importing this package registers every mixer module below."""
from fwformer.mixers.base import Mixer
from fwformer.mixers.registry import FAMILIES, MIXERS, check_mixer, create_mixer, known_names

# Registration happens on import; each module is one mixer family.
from fwformer.mixers import identity as _identity  # noqa: E402,F401
from fwformer.mixers import ssa as _ssa  # noqa: E402,F401

for _module in ("fourier", "wavelet", "dwtc", "learned_wavelet"):
    try:
        __import__(f"fwformer.mixers.{_module}")
    except ModuleNotFoundError as _err:  # a family still being written; remove once all exist
        if _err.name != f"fwformer.mixers.{_module}":
            raise

__all__ = ["Mixer", "MIXERS", "FAMILIES", "check_mixer", "create_mixer", "known_names"]
