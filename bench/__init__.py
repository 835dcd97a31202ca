"""The hook's benchmark (issue 8): ``python -m bench`` (or ``make bench``); see README.md."""
