"""Benchmarks: mixer speed, memory and energy beside FWformer's claims (`benchmarks.mixers`), and
search efficiency and overhead (`benchmarks.search`). Results land in `benchmarks/results/`."""
