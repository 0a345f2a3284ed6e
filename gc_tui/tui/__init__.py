"""The Textual front end; ``make_app(TuiOptions(...))`` builds it (see app.py)."""
