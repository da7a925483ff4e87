"""The study store: per-example losses of M runs per model, on disk, numpy only.

This module (and everything it imports) never imports TensorFlow: the Streamlit app and the
analysis modules read studies through it and must start in a second.

Layout of a study folder::

    <study>/study.json             schema_version, dataset, fingerprint, n, num_classes,
                                   class_names, images (bool), extras (names), created;
                                   written LAST when creating: the study's commit point
    <study>/ids.npy                [N] unicode example ids (position i = example i everywhere)
    <study>/labels.npy             [N] int32
    <study>/images.npy             optional [N, H, W, C] uint8 training images for the app
    <study>/extras/<name>.npy      optional per-example ground truth (e.g. mode, flipped)
    <study>/models/<model>/run-000/manifest.json   the run's commit point, rewritten per commit
    <study>/models/<model>/run-000/losses.npy      [planned checkpoints, N] float32 or float16
    <study>/models/<model>/run-000/state/          the trainer's training state (opaque here)
    <study>/claims/<model>/run-000/000000.json     which worker trains the run: one file per claim
                                                   generation, the newest is the claim
                                                   (:mod:`easiness.store.claims`)
    <study>/.easiness-creation-lease/              while a study is being created: the lease that
                                                   lets one of several processes create it

Crash safety: every small file is written as a temp file in its own folder, fsynced and renamed
over the target (:mod:`easiness.store.atomic`). ``losses.npy`` is the one deliberate exception: it is
preallocated once and its rows are written in place (see :class:`RunWriter` for why and why it
is still safe). Readers trust only the checkpoints a run's manifest lists, so a kill at any
moment leaves the previous committed state readable.

Writing: :func:`create_study` -> :meth:`StudyWriter.run` -> :class:`RunWriter` (``write_row``,
``commit``, ``finish``/``fail``). Several processes may create one study or run at once (one
creates, the others reopen); which of several workers trains which run is decided by
:mod:`easiness.store.claims`. Reading: :meth:`Study.open`, :func:`list_studies`, and :class:`RunStack`,
a lazy ``[M, C, N]`` view over memory-mapped runs.
"""

from easiness.store.layout import SCHEMA_VERSION, StoreError
from easiness.store.reader import Study, list_studies
from easiness.store.runstack import RunStack
from easiness.store.writer import RunWriter, StudyWriter, create_study

__all__ = [
    "SCHEMA_VERSION", "RunStack", "RunWriter", "StoreError", "Study", "StudyWriter",
    "create_study", "list_studies",
]
