"""Chapter 5: Pereira et al. 2018 — a BEGAN learns speech from unlabelled audio; a supervised
module on its frozen encoder recognises emotion.

The pipeline, as the paper describes it:

1. **Pre-processing** (Sec. 3.2): audio at 16 kHz, cut into non-overlapping 1-s chunks; each
   chunk becomes an STFT spectrogram (FFT 1024, hop 512). Here the magnitude is compressed
   with ``log(1 + |X|)`` (the paper does not say how it scales the spectrogram) and each
   frequency bin is z-normalised with the mean and standard deviation of the **pretraining
   chunks only** (stored with the pretrained encoder and applied unchanged to every emotion
   corpus). The final partial chunk of an utterance is zero-padded to a full second, so every
   sample lands in exactly one chunk; with ``chunk_weighting="duration"`` it counts in the
   utterance's decision in proportion to the audio it holds. (Chunks and spectrograms:
   :func:`serlib.features.chunk_spectrograms`; the normaliser: :class:`serlib.features.Standardiser`.)
2. **Unsupervised module** (Sec. 2.1, 2.3): a BEGAN trained once on unlabelled speech
   (LibriSpeech in the paper; the embedded corpus's unlabelled pool by default); its
   discriminator's encoder is saved and reused by every experiment.
3. **Supervised module** (Sec. 2.2): the frozen encoder's representation -> conv layers ->
   softmax (or two one-unit heads for arousal and valence), its hyper-parameters chosen by a
   small search on a held-out part of each fold's training data (the paper used Hyperas). Under
   a speaker-independent fold that part is whole training speakers (the book's choice: the
   paper does not say how it held data out), else a share of the training utterances.
   Chunk outputs are pooled per utterance: the mean of the chunks' log-probabilities (argmax ->
   the class), the mean of the chunks' regression outputs.
4. **Protocols** (Sec. 3.3): speaker-dependent per-speaker 60/40 (SAVEE), the dataset's own
   split with categorical and dimensional labels (OMG-Emotion), leave-one-speaker-out (Emo-DB).

Beyond the paper: a learning curve over label fractions that asks whether the pretraining
helps, against the same encoder with random weights (frozen), the same network trained end to
end from scratch, and eGeMAPS + RBF-SVM; and the book's yardstick (IS10 + RBF-SVM, plain and
speaker-adaptive) on the same folds.

Entry points, as in every chapter: :func:`load` reads the labelled corpus of one protocol,
:func:`run` runs that protocol and returns its :class:`Results`; the BEGAN's own data and
training come first (:func:`load_pretrain_corpus`, :func:`pretrain`).

The package holds the running (:mod:`.running`), the tables and numbers (:mod:`.tables`) and the
figures (:mod:`.figures`); every name above is importable from the package itself.

References
----------
I. Pereira, D. Santos, A. Maciel, P. Barros. Semi-supervised model for emotion recognition in
speech. ICANN 2018, LNCS 11139, pp. 791-800.

D. Berthelot, T. Schumm, L. Metz. BEGAN: Boundary equilibrium generative adversarial networks.
arXiv:1703.10717, 2017.
"""

from __future__ import annotations

from . import figures, running, tables
from .figures import *  # noqa: F403 - the package exports what its modules export
from .running import *  # noqa: F403
from .tables import *  # noqa: F403

__all__ = [*running.__all__, *tables.__all__, *figures.__all__]
