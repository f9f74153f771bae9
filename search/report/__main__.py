"""`python -m search.report`."""
import sys

from search.report.report import main

main(sys.argv[1:])
