"""What a study's arrays say, in numpy only (never TensorFlow).

- the paper's easiness and matching rates: :mod:`~easiness.analysis.metrics`;
- every difficulty score: :mod:`~easiness.analysis.scores`, :mod:`~easiness.analysis.study_scores`;
- their agreement and stability: :mod:`~easiness.analysis.agreement`,
  :mod:`~easiness.analysis.stability`, :mod:`~easiness.analysis.ranks`;
- averaged images: :mod:`~easiness.analysis.images`; what charts of easiness need (class mix,
  cuts, histograms, group summaries): :mod:`~easiness.analysis.distributions`;
- the ablation's sampling rules, plan, folder and read-outs: :mod:`~easiness.analysis.ablation`,
  :mod:`~easiness.analysis.ablation_plan`, :mod:`~easiness.analysis.ablation_folder`,
  :mod:`~easiness.analysis.ablation_view`;
- the ground-truth groups of a synthetic study: :mod:`~easiness.analysis.ground_truth`;
- score tables for export and compare: :mod:`~easiness.analysis.tables`;
- the job summary: :mod:`~easiness.analysis.report`.
"""
