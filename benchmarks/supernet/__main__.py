"""`python -m benchmarks.supernet`: see the package docstring."""
from benchmarks.supernet.cli import main

if __name__ == "__main__":
    main()
