"""The clerk's rules: pure functions over plain data, and the data they take.

Reading a request page and writing it back (`page.py`, with `vocabulary.py` and
`readings.py`), who wrote what (`provenance.py`, `history.py`), what a cycle plans for
each request (`planned.py`, `planning.py`), judging it (`judging.py`), who may add a
decision (`decisions.py`), the words of a reply (`replies.py`, `messages.py`), the
bot's own replies saved elsewhere (`echoes.py`), the page's queue of requests
(`queue.py`), archiving (`archive.py`), `{{bots}}` exclusion (`exclusion.py`), the
bundled on-wiki templates (`templates.py`) and the clerk's settings (`settings.py`).
None of them calls the wiki or the store: they take what the clerk read and return
what it should write. An import-linter contract (pyproject.toml) keeps it so.
"""
