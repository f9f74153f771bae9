"""`python -m benchmarks.mixers`: see the package docstring."""
from benchmarks.mixers.cli import main

if __name__ == "__main__":
    main()
