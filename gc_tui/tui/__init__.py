"""The Textual front end; ``make_app(Settings(...))`` builds it (see app.py)."""
