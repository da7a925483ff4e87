"""The Streamlit app's library: everything the pages in ``pages/`` call (numpy, pandas, altair
and streamlit only; never TensorFlow).

Plumbing:

- :mod:`easiness.ui.roots`: the runs root, the study listing, safe study names, text without server paths.
- :mod:`easiness.ui.guard`: whatever a page fails on becomes a one-line notice, never a traceback.
- :mod:`easiness.ui.compute`: the few numpy views of a study the analysis library lacks (easy/hard
  sets, rankings, matching rates and curves come from :mod:`easiness.analysis.metrics` itself).
- :mod:`easiness.ui.tables`: those views as small pandas tables, one row per chart mark.
- :mod:`easiness.ui.charts`: Altair charts of the tables.
- :mod:`easiness.ui.cache`: the cached loaders (studies by path, derived results per model and T).
- :mod:`easiness.ui.urlstate`: widgets bound to the URL query parameters (shareable views).
- :mod:`easiness.ui.controls`: the view-choosing widgets the pages share (study, model, T, ...).
- :mod:`easiness.ui.navigation`: the table of pages and the frame around them.

The blocks each page is made of: :mod:`~easiness.ui.start`, :mod:`~easiness.ui.job_views`,
:mod:`~easiness.ui.training` (runs), :mod:`~easiness.ui.examples`, :mod:`~easiness.ui.averages`,
:mod:`~easiness.ui.matching` and :mod:`~easiness.ui.truth` (ground truth).
"""
