"""`python -m search.run`."""
import sys

from search.run.run import main

sys.exit(main(sys.argv[1:]))
