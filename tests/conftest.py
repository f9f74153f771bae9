"""Shared test settings. `tests/` is on sys.path (pytest's rootdir conftest), so the writers of
genuine dataset formats in `tests/formats.py` are importable from every test module."""
