"""Chapter parameters with per-profile defaults, range checks and the paper's values beside them.

A chapter declares a dataclass deriving from :class:`ChapterConfig`::

    @dataclass
    class Config(ChapterConfig):
        epochs: int = param(200, smoke=3, paper=1000, paper_value="1000", help="training epochs")

and its notebook's ``parameters`` cell holds ``profile`` plus every knob set to ``None`` (= the
profile's default). ``Config.for_profile(profile, **knobs)`` fills the defaults, refuses unknown
names and out-of-range values, and records what the reader changed; a notebook builds its
configuration in one call, ``cfg = Config.from_notebook(globals())``, which takes ``profile`` and
exactly the Config's fields from the notebook's namespace. The same declarations generate the
book's parameters reference.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

import pandas as pd

from .config import PROFILES, ParameterError, check_choice
from .data.coverage import check_allow_partial

if TYPE_CHECKING:
    from .data import Corpus

__all__ = ["NOTEBOOK_ONLY", "ChapterConfig", "param"]

NOTEBOOK_ONLY: frozenset[str] = frozenset({"profile"})
"""Names a chapter's ``parameters`` cell may hold that are not fields of its Config: ``profile``
picks the defaults every other knob falls back to."""


def param(default: Any, *, smoke: Any = dataclasses.MISSING, paper: Any = dataclasses.MISSING,
          paper_value: str = "", help: str = "", choices: tuple[Any, ...] | None = None,
          low: float | None = None, high: float | None = None) -> Any:
    """Declare a chapter parameter: ``default`` is the ``book`` profile's value.

    ``smoke``/``paper`` override it for those profiles; ``paper_value`` documents the published
    setting (``"not stated"`` when the paper is silent); ``choices``/``low``/``high`` are checked.
    """
    meta = {"book": default, "help": help, "paper_value": paper_value, "choices": choices, "low": low, "high": high}
    meta["smoke"] = default if smoke is dataclasses.MISSING else smoke
    meta["paper"] = default if paper is dataclasses.MISSING else paper
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ChapterConfig:
    """Base of every chapter's configuration: profile, corpus, data_root, device, seeds, allow_partial."""

    profile: str = "book"
    corpus: str = param("embedded", help="corpus name (embedded, iemocap, emodb, ...)")
    data_root: str | None = param(None, help="folder of a real corpus; None uses $SERLIB_DATA/<corpus>")
    device: str = param("auto", help="torch device: auto | cpu | cuda | cuda:N")
    seeds: list[int] = param([0, 1, 2], smoke=[0], help="random seeds; results are mean ± std over them")
    allow_partial: bool = param(False, help="run on a real corpus that is not the full release (the paper "
                                "profile refuses one otherwise; other profiles warn); recorded in run.json")
    changed: dict[str, Any] = field(default_factory=dict, repr=False)

    CHAPTER: ClassVar[str] = ""
    NOT_IN_NOTEBOOK: ClassVar[tuple[str, ...]] = ()
    """Fields this chapter has no use for (inherited from the base, e.g. ``device`` in a chapter that
    trains nothing): its notebook's ``parameters`` cell leaves them out and they keep the profile's
    value."""

    @classmethod
    def fields_meta(cls) -> list[dataclasses.Field[Any]]:
        return [f for f in dataclasses.fields(cls) if f.name not in ("profile", "changed")]

    @classmethod
    def defaults(cls, profile: str) -> dict[str, Any]:
        check_choice("profile", profile, PROFILES)
        out = {}
        for f in cls.fields_meta():
            v = f.metadata.get(profile, f.default if f.default is not dataclasses.MISSING else None)
            out[f.name] = list(v) if isinstance(v, list) else v
        return out

    @classmethod
    def for_profile(cls, profile: str = "book", **overrides: Any) -> Self:
        """The configuration of ``profile`` with every non-``None`` override applied and checked."""
        values = cls.defaults(profile)
        known = set(values)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ParameterError(f"unknown parameter(s) {unknown} for {cls.__name__}; known: {sorted(known)}")
        changed = {k: v for k, v in overrides.items() if v is not None and v != values[k]}
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values.get("seeds"), int):
            values["seeds"] = [values["seeds"]]
        cfg = cls(profile=profile, changed=changed, **values)
        cfg.validate()
        return cfg

    @classmethod
    def knobs(cls) -> list[str]:
        """The fields a reader sets from the notebook's ``parameters`` cell (every field but
        ``profile``, ``changed`` and :attr:`NOT_IN_NOTEBOOK`), in declaration order."""
        return [f.name for f in cls.fields_meta() if f.name not in cls.NOT_IN_NOTEBOOK]

    @classmethod
    def from_notebook(cls, namespace: Mapping[str, Any]) -> Self:
        """The configuration a notebook's ``parameters`` cell asks for: ``cfg = Config.from_notebook(globals())``.

        ``profile`` (default ``"book"``) picks the defaults; every knob (:meth:`knobs`) found in
        ``namespace`` is passed to :meth:`for_profile`, so ``None`` means the profile's value and
        anything else is checked and recorded as changed. Other names (imports, helpers) are
        ignored; a knob missing from ``namespace`` keeps the profile's value.

        Parameters
        ----------
        namespace
            The notebook's (or a script's) namespace after its ``parameters`` cell and the
            parameters papermill injected after it: ``globals()`` (or ``locals()``).

        Raises
        ------
        ParameterError
            A value is out of range or not one of its choices, the profile is unknown, or a knob's
            name is bound to a module, function or class (an import shadowing it).
        """
        profile = namespace.get("profile", "book")
        picked: dict[str, Any] = {}
        for name in cls.knobs():
            if name not in namespace:
                continue
            value = namespace[name]
            if isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)):
                raise ParameterError(
                    f"{cls.__name__}.from_notebook: the name {name!r} is bound to {value!r}, not a parameter "
                    f"value; set {name} in the parameters cell and do not import or define anything under "
                    "that name before building the configuration")
            picked[name] = value
        return cls.for_profile(profile, **picked)

    def validate(self) -> None:
        """Check choices and ranges declared with :func:`param`; subclasses may add more."""
        for f in self.fields_meta():
            v = getattr(self, f.name)
            choices, low, high = f.metadata.get("choices"), f.metadata.get("low"), f.metadata.get("high")
            items = v if isinstance(v, (list, tuple)) else [v]
            for item in items:
                if choices is not None and item not in choices:
                    raise ParameterError(f"{f.name}={item!r} is not one of {list(choices)}")
                if item is not None and not isinstance(item, str) and (
                        (low is not None and item < low) or (high is not None and item > high)):
                    raise ParameterError(f"{f.name}={item!r} is out of range [{low}, {high}]")
        if not self.seeds:
            raise ParameterError("seeds must name at least one seed")
        check_allow_partial(self.allow_partial)

    def load_corpus(self, name: str | None = None, root: str | None = None, *, role: str = "main",
                    **options: Any) -> Corpus:
        """Load a corpus for this chapter run and apply the completeness rule.

        Without ``name`` it is the chapter's ``corpus`` from ``data_root``. A real corpus that is
        not its full release is refused in the ``paper`` profile unless ``allow_partial`` is
        true, and announced with a warning in the notebook output otherwise
        (:func:`serlib.data.coverage.enforce`). ``role`` ("main", "pretrain", "cross" ...) names
        the corpus in ``run.json``'s provenance; ``options`` go to the loader.
        """
        from .data import load_corpus
        from .data.coverage import enforce

        if name is None:
            name, root = self.corpus, self.data_root
        corpus = load_corpus(name, root, role=role, **options)
        enforce(corpus, profile=self.profile, allow_partial=self.allow_partial, role=role)
        return corpus

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "changed"}

    def summary(self) -> str:
        """One line (markdown) saying what this run changed: the profile, the corpus, and every
        parameter set away from the profile's default. The chapters show it above their collapsed
        parameter table."""
        corpus = getattr(self, "corpus", None)
        changed = ", ".join(f"`{k}={v!r}`" for k, v in self.changed.items()) or "nothing"
        return (f"This run: profile **{self.profile}**" + (f", corpus `{corpus}`" if corpus else "")
                + f"; changed from the profile's defaults: {changed}. Every parameter, with its default in each "
                "profile and the paper's value, is in the collapsed table below.")

    @classmethod
    def reference(cls) -> pd.DataFrame:
        """A table of every parameter: default per profile, meaning, the paper's value."""
        rows = []
        for f in cls.fields_meta():
            m = f.metadata
            rows.append({"parameter": f.name, "smoke": m.get("smoke"), "book": m.get("book"),
                         "paper": m.get("paper"), "paper's value": m.get("paper_value", ""),
                         "meaning": m.get("help", "")})
        return pd.DataFrame(rows).set_index("parameter")
