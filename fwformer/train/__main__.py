"""`python -m fwformer.train`: the command in `fwformer/train/command.py`."""
from fwformer.train.command import main

main()
