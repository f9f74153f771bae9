"""What the mixer benchmark measures and judges: the mixers, FWformer's claims, the goals."""
from __future__ import annotations

#: FWformer's mixers (fft1d, fft2d, dwt-, dwtc), our variants of them (hartley*, wavefilter*), WavSpA's
#: wavelet-space attention (wavspa-, adawavspa-), the attentions of Spike-driven Transformer (sdsa, sdsa3),
#: QKFormer (qkta, qkca) and axial attention, SWformer's FATM, SpectFormer's spectral gating, Hyena N-D,
#: GSAP, Meta-SpikeFormer's and Max-Former's local mixers (sepconv, dwc3, maxpool), a hybrid, and the two
#: references (the site's mixer reference). Names not registered on a grid are skipped with a note.
MIXERS = ["ssa", "fft1d", "fft2d", "dwt-haar", "dwt-db2", "dwtc", "hartley1d", "hartley2d", "wavefilter-haar",
          "wavefilter-db2", "wavefilter-combo", "wavefilter-learned-db2", "wavspa-haar", "adawavspa-db2",
          "sdsa", "sdsa3", "qkta", "qkca", "axial", "fatm", "spectral", "hyena2d", "gsap", "sepconv", "dwc3",
          "maxpool", "fft2d+dwt-haar", "identity"]
BASELINE, BOUND = "ssa", "identity"
#: Mixers that compute with a fixed (or learned-filter) basis instead of q k^T: the goal's candidates.
FIXED_BASIS = ["fft1d", "fft2d", "dwt-haar", "dwt-db2", "dwtc", "hartley1d", "hartley2d", "wavefilter-haar",
               "wavefilter-db2", "wavefilter-combo", "wavefilter-learned-db2", "fft2d+dwt-haar"]

# FWformer's claims against Spikformer (REFERENCE.md), as ratios to SSA.
CLAIMS = {
    "train": (1.09, 1.51),  # training speed +9% to +51%
    "infer": (1.19, 1.70),  # inference speed +19% to +70%
    "memory": (0.74, 0.96),  # GPU memory -26% to -4%
    "energy": (0.75, 0.80),  # theoretical energy -25% to -20%
}
# FWformer's CIFAR-10 energy table (REFERENCE.md): 2D-FFT 0.393 mJ, SSA 0.523 mJ per image.
PUBLISHED_FFT2D_VS_SSA = 0.393 / 0.523
# The goals for the best fixed-basis mixer at Spikformer-4-384 geometry: FWformer's upper claims, and within 10%
# of the identity bound.
GOALS = dict(train_vs_ssa=1.5, infer_vs_ssa=1.7, vs_identity=0.9, energy_vs_ssa=0.75)
