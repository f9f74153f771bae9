"""One-shot search (`search.strategy: supernet`): a weight-sharing supernet over every mixer and T of
the space, sub-networks scored with inherited weights, and the best k trained stand-alone as trials.

Modules: `checks` (what a supernet study must satisfy), `training` (the supernet's config, home,
training and loading), `evaluate` (scoring a sub-network: BN recalibration, accuracy, energy),
`candidates` (the sampler over sub-networks, in the Optuna study `<study>.supernet`), `confirm`
(choosing and queueing the best k), `strategy` (the phases, run by `search.run.run_study`).
The model is `fwformer.supernet.Supernet`.
"""
