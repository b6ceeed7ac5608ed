"""``python -m eval``: the evaluation command line, and the evaluations above the core harness.

The harness, metrics and reports live in :mod:`llmrec.evaluation` (``llmrec.evaluate`` runs one); this
package adds the command line (:mod:`eval.cli`), the main job (:mod:`eval.main_job`), the
explanation-faithfulness evaluation, and the fusion-weight and sampling-temperature selection on the
validation split.
"""
