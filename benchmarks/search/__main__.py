"""`python -m benchmarks.search`: see the package docstring."""
from benchmarks.search.cli import main

if __name__ == "__main__":
    main()
