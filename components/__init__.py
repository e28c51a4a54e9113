"""Streamlit UI building blocks: page setup and navigation, cached resources, page views.

Pages and ``app.py`` stay thin and call into this package; it may use ``storage`` and ``core``
but never the other way round.
"""
