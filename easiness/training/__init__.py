"""Training and scoring with TensorFlow: a study's runs (:mod:`~easiness.training.study`), the
fused trainer (:mod:`~easiness.training.train`, :mod:`~easiness.training.steps`), what a scoring
pass records (:mod:`~easiness.training.recorder`) and the clean batches it replays
(:mod:`~easiness.training.clean_cache`), retraining and the ablation's points
(:mod:`~easiness.training.retrain`, :mod:`~easiness.training.ablation_run`), the Keras callback's
run and data (:mod:`~easiness.training.logging_run`, :mod:`~easiness.training.logged_data`) and
multi-worker setup (:mod:`~easiness.training.cluster`). Modules here may import TensorFlow;
outside this package only :mod:`easiness.data`'s loaders, :mod:`easiness.keras` and
``python -m easiness.score`` do (``tests/test_layout.py`` holds that line)."""
