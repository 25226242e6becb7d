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

The package holds the running (:mod:`.running`), the tables and numbers (:mod:`.tables`) and the
figures (:mod:`.figures`); every name above is importable from the package itself.

References
----------
B. Leow Xuan Zhen, L. L. C. Kasun, C. S. Ahn, J. C. Rajapakse. Speaker-invariant emotion
recognition with adversarial learning.

M. Tu, Y. Tang, J. Huang, X. He, B. Zhou. Towards adversarial learning of speaker-invariant
representation for speech emotion recognition. arXiv:1903.09606, 2019.

H. Li, M. Tu, J. Huang, S. Narayanan, P. Georgiou. Speaker-invariant affective representation
learning via adversarial training. ICASSP 2020.
"""

from __future__ import annotations

from . import figures, running, tables
from .figures import *  # noqa: F403 - the package exports what its modules export
from .running import *  # noqa: F403
from .tables import *  # noqa: F403

__all__ = [*running.__all__, *tables.__all__, *figures.__all__]
