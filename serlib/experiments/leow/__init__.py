"""Chapter 4: speaker-invariant emotion recognition with adversarial learning (Leow et al.).

The experiment functions the notebook calls:

* :func:`load` -- the labelled corpus of a configuration; :func:`make_folds` -- the
  gender-balanced leave-two-speakers-out folds with a validation pair;
* the inputs come from :mod:`serlib.features`: :func:`~serlib.features.padded_mfcc` (the
  paper's: silence trimmed, every recording zero-padded to the longest of the corpus, 20 MFCCs,
  frame :data:`N_FFT`, hop :data:`HOP_LENGTH`, Hann) and
  :func:`~serlib.features.lmfb_energy_pitch` (the 1D CNN GRU encoder's: log mel filterbanks +
  log energy + log F0, frame :data:`LMFB_N_FFT`, hop :data:`LMFB_HOP`);
* :func:`run` -- every (encoder, CNN depth, gamma) row of Tables 1 and 2 on every fold and
  seed, each grid point trained with its epoch chosen on the validation pair, the grid point
  chosen on the validation pair too; plus the speaker probes of the frozen encoders;
* :func:`table1`, :func:`table2`, :func:`yardstick`, :func:`probe_table` -- tidy tables;
* figures: :func:`plot_lambda_schedule`, :func:`plot_training_curves`,
  :func:`plot_confusions`, :func:`plot_projection`, :func:`plot_probe`.

References
----------
B. Leow Xuan Zhen, L. L. C. Kasun, C. S. Ahn, J. C. Rajapakse. Speaker-invariant emotion
recognition with adversarial learning.

M. Tu, Y. Tang, J. Huang, X. He, B. Zhou. Towards adversarial learning of speaker-invariant
representation for speech emotion recognition. arXiv:1903.09606, 2019.

H. Li, M. Tu, J. Huang, S. Narayanan, P. Georgiou. Speaker-invariant affective representation
learning via adversarial training. ICASSP 2020.

The package holds the running (:mod:`.running`), the tables and numbers (:mod:`.tables`) and the
figures (:mod:`.figures`); every name above is importable from the package itself.
"""

from __future__ import annotations

from .figures import (
    plot_confusions,
    plot_lambda_schedule,
    plot_padded_inputs,
    plot_per_speaker,
    plot_probe,
    plot_projection,
    plot_training_curves,
)
from .running import (
    CHAPTER,
    HOP_LENGTH,
    N_FFT,
    REAL_SPEECH_STEPS,
    Config,
    Results,
    fit_one,
    fold_table,
    grid_points,
    load,
    make_folds,
    model_inputs,
    padding_share,
    real_speech_ablation,
    run,
    run_key,
    run_meta,
    speaker_probe,
    yardstick,
)
from .tables import (
    PROBE_MARGIN,
    TABLE2_ROWS,
    ablation_moves,
    al_gains,
    beside_paper,
    chosen_epochs,
    comparison,
    key_label,
    paper_gain,
    paper_gain_range,
    per_speaker_accuracy,
    probe_summary,
    probe_table,
    run_summary,
    table1,
    table2,
    yardstick_comparison,
)

__all__ = [
    "TABLE2_ROWS",
    "CHAPTER", "PROBE_MARGIN", "paper_gain", "al_gains", "ablation_moves", "paper_gain_range",
    "probe_summary", "run_key", "run_meta", "run_summary", "yardstick_comparison", "Config", "Results",
    "N_FFT", "HOP_LENGTH", "beside_paper", "chosen_epochs", "comparison", "fit_one", "fold_table",
    "grid_points", "load", "make_folds", "plot_confusions", "plot_lambda_schedule", "plot_padded_inputs",
    "plot_probe", "plot_projection", "plot_training_curves", "probe_table", "run", "speaker_probe",
    "table1", "table2", "yardstick",
    "real_speech_ablation", "padding_share", "model_inputs", "REAL_SPEECH_STEPS",
    "key_label", "per_speaker_accuracy",
    "plot_per_speaker",
]
