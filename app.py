"""easiness: explore which training examples CNNs find easy or hard (arXiv:1911.10739).

    streamlit run app.py                    # studies under ./runs (or $EASINESS_RUNS)
    streamlit run app.py -- --runs DIR      # studies under DIR

The frame of the app: page setup and navigation; a page that fails shows a notice, not a
traceback. The pages are the scripts in ``pages/``; what they show is built in ``easiness.ui``.
Nothing here (or there) imports TensorFlow.
"""

from easiness.ui.navigation import frame, show

show(frame())
