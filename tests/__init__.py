"""The test suite, one folder per package it tests (tests/data/ tests data/, ...).

Every folder is a package (has an `__init__.py`) on purpose: pytest then
puts the repository root, not each test folder, on `sys.path`, so
`import data` always finds the project's `data/` and never the test folder
of the same name, and the shared helpers import as `tests.testlib`.
"""
