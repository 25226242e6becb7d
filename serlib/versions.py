"""The versions of what serlib caches, and the key of a CI cache built from them.

A cached entry (a generated corpus, a feature matrix, a pretrained encoder) is only as good as
the code that computed it. Each kind of entry carries a version number in its key, bumped when
the code changes the values it would compute, so entries of an older serlib are never read as
if they were current. The numbers live here, in one small module that imports nothing heavy,
and the modules that compute the entries import them from here (:mod:`serlib.features` for the
features and spectrograms, :mod:`serlib.data.synthetic` for the embedded corpus,
:mod:`serlib.experiments.pereira2018` for chapter 5's encoders): the cache itself
(:mod:`serlib.cache`) stores bytes under keys and knows nothing of what they hold.

:func:`cache_versions` gathers all of them, with the versions of the packages that compute the
entries; :func:`ci_cache_key` turns that into the name under which a CI job keeps
``$SERLIB_CACHE`` between runs (``serbook cache-key`` prints it).
"""

from __future__ import annotations

from typing import Any

from .cache import cache_key

__all__ = [
    "FEATURE_VERSION",
    "FRAME_KINDS",
    "FUNCTIONAL_SETS",
    "GENERATOR_VERSION",
    "MODEL_VERSION",
    "SIZES",
    "SPECTRO_VERSION",
    "VARIANTS",
    "cache_versions",
    "ci_cache_key",
]

GENERATOR_VERSION = 1
"""The embedded corpus generator's version (:mod:`serlib.data.synthetic`): bumped whenever the
generated audio or table would change; part of the corpus's folder name."""
SIZES: tuple[str, ...] = ("tiny", "default", "large")
"""The sizes of the embedded corpus."""
VARIANTS: tuple[str, ...] = ("main", "cross")
"""The variants of the embedded corpus: IEMOCAP-like ``main`` and MSP-IMPROV-like ``cross``."""

FEATURE_VERSION = 1
"""The feature extraction's version (:mod:`serlib.features`): bump when the extraction code
changes in a way that alters values."""
SPECTRO_VERSION = 2
"""Bump when the chunk spectrogram extraction (:func:`serlib.features.chunk_spectrograms`)
changes values."""
FUNCTIONAL_SETS: dict[str, str] = {"is10": "IS10", "egemaps": "eGeMAPSv02"}
"""The functional feature sets: serlib's name -> openSMILE's ``FeatureSet`` name."""
FRAME_KINDS: tuple[str, ...] = ("mfcc", "logmel", "stft")
"""The kinds of frame-level features :func:`serlib.features.frames` computes."""

MODEL_VERSION = 3
"""The version of chapter 5's cached pretrained BEGAN encoders (:mod:`serlib.experiments.pereira2018`):
bump when the BEGAN code changes what a cached encoder would be (3: the entry holds only
weights_only-loadable values: tensors, numbers, strings and containers)."""

_PACKAGES: tuple[str, ...] = ("espeakng-loader", "opensmile", "librosa", "torch")
"""The packages whose versions decide the cached values (looked up, never imported)."""


def cache_versions() -> dict[str, Any]:
    """What decides whether the serlib cache's entries are still valid: the embedded corpus
    generator's version, the feature extraction's version and configuration, the versions of the
    cached spectrograms and pretrained encoders of chapter 5, and the packages that compute them."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, Any] = {"generator": GENERATOR_VERSION, "sizes": sorted(SIZES), "variants": sorted(VARIANTS),
                           "features": FEATURE_VERSION, "functional_sets": FUNCTIONAL_SETS,
                           "frame_kinds": list(FRAME_KINDS), "spectrograms": SPECTRO_VERSION,
                           "encoders": MODEL_VERSION}
    for pkg in _PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def ci_cache_key(prefix: str = "serlib") -> str:
    """A key for a CI cache of ``$SERLIB_CACHE``: ``<prefix>-gen<G>-feat<F>-<hash of cache_versions()>``.

    It changes whenever :func:`cache_versions` does, so a CI job never restores entries that
    this serlib would not write (those would be detected and rebuilt anyway, at a cost).
    ``serbook cache-key`` prints it.
    """
    v = cache_versions()
    return f"{prefix}-gen{v['generator']}-feat{v['features']}-{cache_key(**v)}"
