"""`python -m benchmarks.worker_memory`: see the package docstring."""
from benchmarks.worker_memory.cli import main

if __name__ == "__main__":
    main()
