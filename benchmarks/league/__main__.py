"""`python -m benchmarks.league`: see the package docstring."""
from benchmarks.league.cli import main

if __name__ == "__main__":
    main()
