"""A minimal ctypes binding to eSpeak NG, as shipped by the ``espeakng-loader`` wheel.

Only what the embedded corpus needs: synchronous synthesis of one (SSML) text with one voice
into an int16 array at eSpeak's native 22050 Hz.

Two facts shape this module:

* libespeak-ng keeps hidden state between calls (wave generator phase, intonation and noise
  state), so the same text can come out slightly differently depending on what was spoken
  before. :func:`synthesize` is therefore meant to run in a *fresh* process that has never
  loaded the library (see :func:`serlib.data.synthetic.generate`); then the output is
  bit-exact.
* eSpeak keeps its data path in a fixed-size buffer. :func:`make_data_dir` builds a private,
  short-pathed copy of the data folder (symbolic links to the wheel's files) whose
  ``voices/!v`` folder holds the voice variants we write for our speakers.

eSpeak NG is GPL-3.0-or-later; the wheel ships the library and its data unchanged.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = [
    "ESPEAK_RATE",
    "EspeakError",
    "PARAMETERS",
    "library_version",
    "make_data_dir",
    "synthesize",
]

ESPEAK_RATE = 22050
"""eSpeak NG's output sample rate (Hz)."""

PARAMETERS: dict[str, int] = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}
"""``espeak_PARAMETER`` codes: rate in words/min (80-450), volume 0-200 (100 = normal),
pitch 0-100 (50 = the voice's base), range 0-100 (50 = the voice's range), word gap in units
of 10 ms."""

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_SSML = 0x10
_ENDPAUSE = 0x1000

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class EspeakError(RuntimeError):
    """eSpeak NG could not be loaded or refused a call; the message says which and the fix."""


def _wheel_paths() -> tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise EspeakError(
            "the embedded corpus needs eSpeak NG from the 'espeakng-loader' package; "
            "install it with `pip install espeakng-loader`"
        ) from exc
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def library_version() -> str:
    """The eSpeak NG version string, read from the library in a throw-away process.

    (Loading the library here would give this process eSpeak's hidden state; the version is
    only needed for provenance, so it is read from the shared object's bytes instead.)
    """
    lib_path, _ = _wheel_paths()
    try:
        blob = Path(lib_path).read_bytes()
    except OSError:  # pragma: no cover
        return "unknown"
    import re

    m = re.search(rb"\x00(1\.\d+\.\d+)[^\x00]*\x00", blob)
    return m.group(1).decode() if m else "unknown"


def make_data_dir(variants: Mapping[str, str], parent: str | os.PathLike[str] | None = None) -> Path:
    """Build a private eSpeak data folder and return its path.

    Every entry of the wheel's ``espeak-ng-data`` is linked in (copied where links are not
    available), except ``voices/!v``, which holds exactly ``variants`` (file name -> variant
    text; use them as ``"en-us+<name>"``). The folder lives under a short temporary path because
    eSpeak stores its data path in a fixed-size buffer. The caller removes it
    (:func:`shutil.rmtree`) when done.
    """
    _, data_src = _wheel_paths()
    src = Path(data_src)
    root = Path(tempfile.mkdtemp(prefix="sles", dir=parent))
    data = root / "d"
    data.mkdir()

    def link(target: Path, name: Path) -> None:
        try:
            os.symlink(target, name, target_is_directory=target.is_dir())
        except (OSError, NotImplementedError):  # pragma: no cover - e.g. Windows without rights
            if target.is_dir():
                shutil.copytree(target, name)
            else:
                shutil.copy2(target, name)

    for entry in src.iterdir():
        if entry.name == "voices":
            continue
        link(entry, data / entry.name)
    voices = data / "voices"
    voices.mkdir()
    if (src / "voices").is_dir():
        for entry in (src / "voices").iterdir():
            if entry.name != "!v":
                link(entry, voices / entry.name)
    vdir = voices / "!v"
    vdir.mkdir()
    for name, text in variants.items():
        if not name or "/" in name or "\\" in name:
            raise EspeakError(f"bad voice variant name {name!r}")
        (vdir / name).write_text(text, encoding="utf-8")
    if len(str(data)) > 120:  # pragma: no cover - eSpeak's buffer is 160 bytes in older releases
        raise EspeakError(
            f"the eSpeak data path {data} is too long for eSpeak NG; set TMPDIR to a short folder"
        )
    return data


def synthesize(
    text: str,
    *,
    data_path: str,
    voice: str = "en-us",
    params: Mapping[str, int] | None = None,
    seed: int = 0,
    ssml: bool = True,
) -> np.ndarray:
    """Speak ``text`` and return int16 samples at :data:`ESPEAK_RATE`.

    Call this in a fresh process for bit-exact results (see the module docstring).

    Parameters
    ----------
    text
        Plain text, or SSML (``<speak>...</speak>`` with ``<prosody>``) if ``ssml``.
    data_path
        An eSpeak data folder, e.g. from :func:`make_data_dir`.
    voice
        ``"language+variant"``, e.g. ``"en-us+s03"``.
    params
        Any of :data:`PARAMETERS` (absolute values).
    seed
        Seed of eSpeak's noise generator (breath, frication), for reproducible output.
    """
    lib_path, _ = _wheel_paths()
    try:
        lib = ctypes.CDLL(lib_path)
    except OSError as exc:
        raise EspeakError(f"cannot load eSpeak NG from {lib_path} ({exc}); reinstall espeakng-loader") from exc

    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path).encode(), 0)
    if rate <= 0:
        raise EspeakError(f"espeak_Initialize failed for data folder {data_path} (returned {rate})")
    if rate != ESPEAK_RATE:  # pragma: no cover - fixed by the library build
        raise EspeakError(f"eSpeak NG runs at {rate} Hz, expected {ESPEAK_RATE} Hz")

    if hasattr(lib, "espeak_ng_SetRandSeed"):
        lib.espeak_ng_SetRandSeed.restype = None
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed(int(seed) % (2**31))

    chunks: list[np.ndarray] = []

    def _collect(wav, n, _events):  # noqa: ANN001 - ctypes callback
        if n > 0 and wav:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    callback = _SYNTH_CALLBACK(_collect)
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
    lib.espeak_SetSynthCallback(callback)

    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    err = lib.espeak_SetVoiceByName(voice.encode())
    if err != 0:
        raise EspeakError(f"eSpeak NG does not know the voice {voice!r} (error {err}) in {data_path}")

    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    for name, value in (params or {}).items():
        if name not in PARAMETERS:
            raise EspeakError(f"unknown eSpeak parameter {name!r}; known: {sorted(PARAMETERS)}")
        err = lib.espeak_SetParameter(PARAMETERS[name], int(value), 0)
        if err != 0:
            raise EspeakError(f"espeak_SetParameter({name}={value}) failed (error {err})")

    buf = text.encode("utf-8") + b"\x00"
    flags = _CHARS_UTF8 | _ENDPAUSE | (_SSML if ssml else 0)
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]
    err = lib.espeak_Synth(buf, len(buf), 0, 1, 0, flags, None, None)
    if err != 0:
        raise EspeakError(f"espeak_Synth failed (error {err}) for text {text[:60]!r}")
    lib.espeak_Synchronize()
    if not chunks:
        raise EspeakError(f"eSpeak NG produced no audio for {text[:60]!r}")
    return np.concatenate(chunks).astype(np.int16, copy=False)


if __name__ == "__main__":  # pragma: no cover - manual check: python -m serlib.data._espeak "text"
    d = make_data_dir({"t": "language variant\nname t\npitch 100 140\n"})
    try:
        y = synthesize(sys.argv[1] if len(sys.argv) > 1 else "Hello there.", data_path=str(d), voice="en-us+t")
        print(len(y) / ESPEAK_RATE, "s", int(np.abs(y).max()))
    finally:
        shutil.rmtree(d.parent, ignore_errors=True)
