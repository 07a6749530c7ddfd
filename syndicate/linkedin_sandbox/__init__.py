"""The LinkedIn sandbox: LinkedIn imitated for make run and the tests (not product code).

``app`` builds and serves the WSGI app, ``oauth`` and ``rest`` answer LinkedIn's endpoints,
``state`` is its in-memory world, ``errors`` LinkedIn's error bodies, ``jwt`` its signing
key and ``text`` LinkedIn's little-text rendering.
"""
