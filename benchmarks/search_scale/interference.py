"""Where the supernet's paths interfere: how much of its rank error one block's mixer explains.

Few-shot NAS (Zhao et al., ICML 2021) splits a supernet by the choice of the block whose candidates
interfere most and trains one sub-supernet per group. Before training any, this asks what such a
split could fix at most, on the random architectures already scored: per block, the share of the
rank error (stand-alone rank minus inherited rank) that the block's mixer kind explains (eta
squared), Kendall's tau within each kind, and the tau after removing each kind's mean accuracy gap
fitted on the same architectures (an in-sample oracle: an upper bound on what a split that removed
only the between-kind bias could reach). T gets the same treatment (split by T instead).
"""
from __future__ import annotations

from typing import Sequence

#: The mixer families by what mixes the tokens. A hybrid is an attention if a part is one, else a
#: filter if a part is one, else fixed.
KINDS = {
    "attention": {"ssa", "wavspa", "adawavspa", "sdsa", "sdsa3", "qkta", "qkca", "axial", "gsap"},
    "fixed": {"fft1d", "fft2d", "dwt", "hartley1d", "hartley2d", "identity"},
    "filter": {"dwtc", "wavefilter", "wavefilter-combo", "wavefilter-learned", "fatm", "spectral", "hyena2d",
               "hyena2d-flip", "sepconv", "dwc3", "dwc5", "dwc7", "maxpool"},
}


def kind_of(mixer: str) -> str:
    from fwformer.mixers.registry import family_of

    families = {family_of(part) for part in mixer.split("+")}
    for kind in ("attention", "filter", "fixed"):  # a hybrid takes its strongest part's kind
        if families & KINDS[kind]:
            return kind
    raise ValueError(f"mixer '{mixer}' has no kind in benchmarks.search_scale.interference.KINDS: add its family")


def split_effect(groups: Sequence, inherited: Sequence[float], standalone: Sequence[float]) -> dict:
    """What a split by `groups` (one label per architecture) explains of the supernet's rank error."""
    import numpy as np
    from scipy.stats import kendalltau, rankdata

    g, inh, sta = np.asarray(groups), np.asarray(inherited, float), np.asarray(standalone, float)
    error = rankdata(sta) - rankdata(inh)
    total = float(((error - error.mean()) ** 2).sum())
    labels = sorted(set(g.tolist()), key=str)
    between = sum(float((g == j).sum()) * (error[g == j].mean() - error.mean()) ** 2 for j in labels)
    corrected = inh.copy()
    for j in labels:
        corrected[g == j] += (sta[g == j] - inh[g == j]).mean()
    within = {str(j): dict(n=int((g == j).sum()), tau=float(kendalltau(inh[g == j], sta[g == j]).statistic))
              for j in labels if (g == j).sum() >= 3}
    return dict(eta_squared=between / total if total else 0.0, within=within,
                tau_gap_removed=float(kendalltau(corrected, sta).statistic))


def interference_rows(dataset: str, results: dict, fidelity: dict) -> list[dict]:
    """One row per supernet (epochs): the pooled tau over every seed's random architectures, and
    the effect of a split by each block's mixer kind and by T."""
    from scipy.stats import kendalltau

    from benchmarks.search_scale.summary import pooled_pairs

    out = []
    for epochs, pairs in pooled_pairs(fidelity, dataset).items():
        keys = sorted(pairs)
        inh = [pairs[k]["inherited"][0] for k in keys]
        sta = [pairs[k]["standalone"][0] for k in keys]
        depth = len(results[keys[0]]["mixers"])
        splits = {f"block {b}": split_effect([kind_of(results[k]["mixers"][b]) for k in keys], inh, sta)
                  for b in range(depth)}
        splits["T"] = split_effect([results[k]["T"] for k in keys], inh, sta)
        out.append(dict(dataset=dataset, supernet_epochs=epochs, architectures=len(keys),
                        kendall_tau=float(kendalltau(inh, sta).statistic), splits=splits))
    return out


def table(rows: Sequence[dict]) -> str:
    lines = ["| dataset | supernet epochs | n | tau | split by | share of rank error explained | tau within each group | "
             "tau, group gap removed (in-sample) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for name, s in r["splits"].items():
            within = ", ".join(f"{k} {v['tau']:.2f} (n {v['n']})" for k, v in s["within"].items())
            lines.append(f"| {r['dataset']} | {r['supernet_epochs']} | {r['architectures']} | {r['kendall_tau']:.2f} | {name} | "
                         f"{s['eta_squared']:.3f} | {within} | {s['tau_gap_removed']:.2f} |")
    return "\n".join(lines)
