"""`python -m benchmarks.search_scale`: see the package docstring."""
from benchmarks.search_scale.cli import main

if __name__ == "__main__":
    main()
