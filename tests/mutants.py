"""Deliberate bugs ("semantic mutants") that the fast tests must catch, and their runner.

Each :class:`Mutant` is a small change of the kind a real bug makes (a flipped sign, a forgotten
line, the wrong variable), given as the exact original text in one file and its replacement,
with the fast tests that must fail when it is applied. None of them stops the code from
importing or running: each one silently computes something else, which only a test of the
property can notice.

Run them with ``make mutants`` or::

    python -m tests.mutants              # every mutant
    python -m tests.mutants NAME ...     # some of them
    python -m tests.mutants --list       # the catalogue

For each run the repository's files (``git ls-files``: the tracked files and the untracked
ones git does not ignore) are copied into a temporary folder; the listed tests run there once
unchanged (they must pass, else "caught" would mean nothing: exit status 2), then once per
mutant on a fresh copy with that one change applied. A mutant whose original text is not found
exactly once in its file is refused (the catalogue must follow the code). The tests run with
this interpreter (``-m pytest -q -x -p no:cacheprovider``) in the copy, with the copy first on
``PYTHONPATH`` (checked: ``serlib`` and ``tests`` are imported from the copy) and
``SERLIB_CACHE`` at the usual cache, so computed features are reused.

A mutant counts as caught when a listed test fails on an assertion; a test that fails on any
other exception reports a crash (a semantic mutant must run), which counts as not caught.

Exit status: 0 when every mutant is caught, 1 when one is missed (or crashes) or its text is not
found, 2 when the listed tests fail on the unchanged copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

P = "tests/test_protocol_properties.py::"
M = "tests/test_method_properties.py::"


@dataclass(frozen=True)
class Mutant:
    """One deliberate bug: ``original`` (found exactly once in ``file``) becomes ``replacement``."""

    name: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    why: str


MUTANTS: tuple[Mutant, ...] = (
    # ---------------------------------------------------------------- chapter 0: corpora and labels
    Mutant(
        "label-codes-alphabetical", "serlib/data/corpus.py",
        "mapping = {lab: i for i, lab in enumerate(self.labels)}",
        "mapping = {lab: i for i, lab in enumerate(sorted(self.labels))}",
        (P + "test_integer_codes_index_the_corpus_label_order",),
        "Integer codes follow the alphabetical order while every table reads them in the corpus's label "
        "order, so each class is scored against another class's name.",
    ),
    Mutant(
        "emodb-angst-read-as-anger", "serlib/data/emodb.py",
        '{"W": "anger", "L": "boredom", "E": "disgust", "A": "fear",',
        '{"W": "fear", "L": "boredom", "E": "disgust", "A": "anger",',
        (P + "test_emodb_file_letters_give_the_german_emotions", "tests/test_loaders.py::test_emodb"),
        "Emo-DB's letter A (Angst, fear) is read as the English 'anger' and W (Wut) as fear: two classes' "
        "labels are swapped in the loader.",
    ),
    # ---------------------------------------------------------------- splits
    Mutant(
        "loso-test-speaker-in-training", "serlib/splits.py",
        "train = rows[groups[rows] != g]",
        "train = rows[groups[rows] != groups[rows][0]]",
        (P + "test_leave_one_speaker_out_never_trains_on_the_test_speaker",
         "tests/test_splits.py::test_leave_one_session_out_disjoint_and_complete"),
        "Every leave-one-out fold drops the first group from training instead of its own, so the test "
        "speaker (session) of every other fold is trained on.",
    ),
    Mutant(
        "ltso-test-pair-in-training", "serlib/splits.py",
        "train = rows[~np.isin(spk[rows], list(pair) + list(vpair))]",
        "train = rows[~np.isin(spk[rows], list(vpair))]",
        (P + "test_leave_two_speakers_out_keeps_test_and_validation_pairs_out_of_training",
         "tests/test_splits.py::test_leave_two_speakers_out_gender_balanced_with_validation"),
        "Leave-two-speakers-out removes only the validation pair from training: the two test speakers "
        "are trained on.",
    ),
    Mutant(
        "early-stopping-on-test-pair", "serlib/splits.py",
        "val = rows[np.isin(spk[rows], vpair)] if validation",
        "val = rows[np.isin(spk[rows], pair)] if validation",
        (P + "test_leave_two_speakers_out_keeps_test_and_validation_pairs_out_of_training",
         "tests/test_splits.py::test_leave_two_speakers_out_gender_balanced_with_validation"),
        "The validation part holds the test pair, so the epoch and the early stop are chosen on the "
        "test speakers.",
    ),
    # ---------------------------------------------------------------- standardisation
    Mutant(
        "standardiser-uses-the-datas-own-statistics", "serlib/features.py",
        "return ((x - self.mean[None, :, None]) / self.std[None, :, None]).astype(np.float32)",
        "return ((x - x.mean(axis=(0, 2))[None, :, None]) / x.std(axis=(0, 2))[None, :, None]).astype(np.float32)",
        (P + "test_standardiser_applies_the_fitted_statistics_to_new_data",
         "tests/test_features.py::test_standardiser_uses_the_fitted_rows_only"),
        "A batch of held-out matrices is standardised with its own mean and deviation (statistics "
        "fitted on the test data) instead of the training statistics.",
    ),
    Mutant(
        "mel-statistics-from-every-row", "serlib/features.py",
        "new.norm = Standardiser.fit([self.frames[i] for i in rows], floor=0.0, offset=1e-5)",
        "new.norm = Standardiser.fit(self.frames, floor=0.0, offset=1e-5)",
        (P + "test_mel_batches_take_their_statistics_from_the_training_rows_only",
         "tests/test_features.py::test_mel_batches_pad_cut_and_standardise_with_training_rows"),
        "The log-mel standardisation is fitted on every utterance, the test speakers' included, not on "
        "the training rows it is given.",
    ),
    # ---------------------------------------------------------------- metrics
    Mutant(
        "uar-computed-as-accuracy", "serlib/metrics.py",
        "return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))",
        "return float(np.mean([np.mean(y_pred == y_true) for c in classes]))",
        (P + "test_uar_is_the_mean_of_per_class_recalls",
         "tests/test_metrics.py::test_uar_differs_from_accuracy_on_imbalanced_data"),
        "UAR becomes the weighted accuracy, which rewards predicting the majority class.",
    ),
    Mutant(
        "ccc-computed-as-pearson", "serlib/metrics.py",
        "return float(2 * cov / denom) if denom > 0 else 0.0",
        "return float(cov / np.sqrt(vx * vy)) if denom > 0 else 0.0",
        (P + "test_ccc_penalises_bias_and_scale_unlike_pearson", "tests/test_metrics.py::test_ccc_properties"),
        "Lin's concordance becomes Pearson's r, blind to a bias or a scale error in the predictions.",
    ),
    # ---------------------------------------------------------------- verdicts (every chapter's claims)
    Mutant(
        "tie-counted-as-ahead", "serlib/claims.py",
        "    if d > m:\n        return AHEAD",
        "    if d >= m:\n        return AHEAD",
        ("tests/test_claims.py::test_exactly_equal_numbers_are_a_tie_never_ahead",
         "tests/test_claims.py::test_a_difference_within_the_margin_is_a_tie_and_the_margin_is_inclusive"),
        "A difference equal to the margin (zero without one) counts as ahead, so two equal numbers are "
        "written up as one beating the other.",
    ),
    # ---------------------------------------------------------------- early stopping
    Mutant(
        "best-epoch-weights-not-copied", "serlib/train.py",
        "best_snapshot = {name: copy.deepcopy(m.state_dict()) for name, m in modules.items()}",
        "best_snapshot = {name: m.state_dict() for name, m in modules.items()}",
        (P + "test_fit_hands_back_the_best_validation_epochs_weights",),
        "The best epoch's state dict holds references to the live weights, so the model handed back "
        "is the last epoch's, not the one validation chose.",
    ),
    # ---------------------------------------------------------------- chapter 1: AAE and cGAN (Sahu et al.)
    Mutant(
        "cgan-generator-ignores-label", "serlib/models/gan.py",
        "return self.generator(torch.cat([z, self._onehot(y)], dim=1))",
        "return self.generator(torch.cat([z, self._onehot(torch.zeros_like(y))], dim=1))",
        (M + "test_conditional_generator_output_depends_on_the_label",),
        "The conditional generator is always given class 0's one-hot: it generates the same features "
        "whatever emotion is asked for.",
    ),
    Mutant(
        "decoder-init-skips-output-layer", "serlib/models/gan.py",
        "for g, d in zip(g_lin[1:], d_lin[1:]):",
        "for g, d in zip(g_lin[1:-1], d_lin[1:-1]):",
        (M + "test_generator_initialised_from_the_decoder_reproduces_it",),
        "Off by one: the generator's output layer keeps its random weights, so the generator does not "
        "start from the pre-trained AAE decoder.",
    ),
    Mutant(
        "aae-adversarial-term-never-reaches-encoder", "serlib/models/aae.py",
        "g_out = model.discriminate(model.encoder(x), y)",
        "g_out = model.discriminate(model.encoder(x).detach(), y)",
        (M + "test_aae_adversarial_phase_pulls_the_codes_toward_their_prior_components",),
        "The encoder's codes are detached in the regularisation phase: the adversarial term is computed "
        "but never shapes the codes toward the prior.",
    ),
    # ---------------------------------------------------------------- chapter 2: mixup GAN (Latif et al.)
    Mutant(
        "mixup-weight-ignored", "serlib/models/mixup_gan.py",
        "lam_c = _col(lam, x)",
        "lam_c = _col(0.5, x)",
        (M + "test_mixup_mixes_inputs_and_labels_by_lambda",),
        "mixup always takes the midpoint of a pair: the sampled Beta(alpha, alpha) weight is ignored.",
    ),
    # ---------------------------------------------------------------- chapter 3: InfoGAN (Ahn et al.)
    Mutant(
        "infogan-mi-term-dropped", "serlib/models/infogan.py",
        "g_loss = g_adv + (lam * (mi_y_fake + mi_t_fake) if use_mi else 0.0)",
        "g_loss = g_adv + (lam * (mi_y_fake + mi_t_fake).detach() if use_mi else 0.0)",
        (M + "test_infogan_generator_objective_contains_lambda_times_the_mi_terms",),
        "The mutual-information terms are added to the generator's loss as constants: logged, but no "
        "gradient reaches the generator, which becomes a plain GAN.",
    ),
    # ---------------------------------------------------------------- chapter 4: SIER (Leow et al.)
    Mutant(
        "grl-sign-flipped", "serlib/models/sier.py",
        "return -ctx.lam * grad, None",
        "return ctx.lam * grad, None",
        (M + "test_gradient_reversal_negates_and_scales_the_gradient_by_lambda",
         M + "test_sier_network_sets_the_reversal_weight_it_is_given"),
        "The gradient-reversal layer passes the speaker gradient unreversed: the encoder learns speaker "
        "identity instead of unlearning it.",
    ),
    Mutant(
        "grl-lambda-ignored", "serlib/models/sier.py",
        "return -ctx.lam * grad, None",
        "return -grad, None",
        (M + "test_gradient_reversal_negates_and_scales_the_gradient_by_lambda",),
        "The reversed gradient is not scaled by lambda, so the annealing schedule has no effect.",
    ),
    Mutant(
        "sier-step-drops-speaker-loss", "serlib/models/sier.py",
        "loss = j_e + j_s  # the reversal layer",
        "loss = j_e  # the reversal layer",
        (M + "test_sier_step_trains_the_speaker_branch_and_pushes_the_encoder_against_it",),
        "The speaker loss is computed and logged but left out of the step's loss: the speaker "
        "classifier never learns and the adversarial branch does nothing.",
    ),
    Mutant(
        "sier-network-never-sets-lambda", "serlib/models/sier.py",
        "        if lam is not None:\n            self.grl.lam = float(lam)\n",
        "",
        (M + "test_sier_network_sets_the_reversal_weight_it_is_given",),
        "The network forgets to hand the step's lambda to its reversal layer, which keeps lambda = 0: "
        "the adversarial branch never reaches the encoder.",
    ),
    # ---------------------------------------------------------------- chapter 5: BEGAN (Pereira et al.)
    Mutant(
        "began-k-never-updated", "serlib/models/began.py",
        '        state["k"] = rec.k\n',
        "",
        (M + "test_began_k_follows_the_equilibrium_controller_step_after_step",),
        "The controller's new k_t is computed but never stored, so every step uses the initial k_0.",
    ),
)


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------
def find(name: str) -> Mutant:
    for m in MUTANTS:
        if m.name == name:
            return m
    raise KeyError(f"no mutant named {name!r}; known: {[m.name for m in MUTANTS]}")


def occurrences(mutant: Mutant, root: Path = ROOT) -> int:
    """How often the mutant's original text occurs in its file under ``root``."""
    path = root / mutant.file
    return path.read_text(encoding="utf-8").count(mutant.original) if path.is_file() else 0


def repository_files(root: Path = ROOT) -> list[str]:
    """The tracked files and the untracked ones git does not ignore (those that exist)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         check=True, capture_output=True).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (root / f).is_file()})


def copy_tree(files: list[str], dest: Path, root: Path = ROOT) -> None:
    for f in files:
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, target)


def apply(mutant: Mutant, copy_root: Path) -> None:
    path = copy_root / mutant.file
    text = path.read_text(encoding="utf-8")
    if text.count(mutant.original) != 1:
        raise LookupError(f"{mutant.name}: the original text occurs {text.count(mutant.original)} times "
                          f"in {mutant.file} (expected once)")
    path.write_text(text.replace(mutant.original, mutant.replacement), encoding="utf-8")


def environment(copy_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy_root), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no stale bytecode between the unchanged and the mutated file
    env["SERLIB_CACHE"] = str(Path(os.environ.get("SERLIB_CACHE", "~/.cache/serlib")).expanduser())
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    return env


def check_imports_from(copy_root: Path) -> None:
    """Refuse to go on unless ``serlib`` and ``tests`` are imported from the copy."""
    probe = "import serlib, tests; print(serlib.__file__); print(tests.__file__)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=copy_root, env=environment(copy_root),
                         capture_output=True, text=True, check=True).stdout.split()
    real = copy_root.resolve()
    for f in out:
        if real not in Path(f).resolve().parents:
            raise RuntimeError(f"{f} is imported instead of the copy under {copy_root}")


def run_tests(copy_root: Path, tests: list[str], *, stop: bool = True) -> tuple[int, str | None, str, str, int]:
    """Run ``tests`` in the copy (stopping at the first failure when ``stop``): (exit status, first
    failing test id, its error's first line, the output's tail, the number of failing tests). The
    failures are read from pytest's JUnit XML report."""
    report = copy_root.parent / f"{copy_root.name}.junit.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", *(["-x"] if stop else []), "-p", "no:cacheprovider",
                           f"--junitxml={report}", *tests],
                          cwd=copy_root, env=environment(copy_root), capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    first, message, n_failed = None, "", 0
    if report.is_file():
        for case in ET.parse(report).getroot().iter("testcase"):
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            if bad is not None:
                n_failed += 1
                if first is None:
                    path = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
                    first = f"{path}::{case.get('name')}"
                    message = (bad.get("message") or "").strip().splitlines()[0] if bad.get("message") else ""
    return proc.returncode, first, message, out[-3000:], n_failed


def fresh_copy(files: list[str], base: Path, name: str) -> Path:
    d = base / name
    copy_tree(files, d)
    return d


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="mutants to run (default: all)")
    ap.add_argument("--list", action="store_true", help="print the catalogue and exit")
    ap.add_argument("--every-test", action="store_true",
                    help="run every listed test of a mutant (no -x) and count the failing ones")
    args = ap.parse_args(argv)
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:45s} {m.file:28s} {m.why}")
        return 0
    try:
        chosen = [find(n) for n in args.names] if args.names else list(MUTANTS)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 1
    stale = [m for m in chosen if occurrences(m) != 1]
    for m in stale:
        print(f"{m.name}: the original text occurs {occurrences(m)} times in {m.file} (expected once); "
              "update the catalogue", file=sys.stderr)
    chosen = [m for m in chosen if m not in stale]
    files = repository_files()
    tests = list(dict.fromkeys(t for m in chosen for t in m.tests))
    rows: list[tuple[str, str, str, float]] = []
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="serbook-mutants-") as tmp:
        base = Path(tmp)
        if chosen:
            clean = fresh_copy(files, base, "unchanged")
            check_imports_from(clean)
            t0 = time.perf_counter()
            rc, first, msg, tail, _ = run_tests(clean, tests)
            print(f"unchanged copy: {len(tests)} tests, {'pass' if rc == 0 else 'FAIL'} "
                  f"({time.perf_counter() - t0:.1f} s)")
            if rc != 0:
                print(tail, file=sys.stderr)
                print(f"the listed tests do not pass on the unchanged copy (first failure: {first}); "
                      "no mutant can be judged", file=sys.stderr)
                return 2
            shutil.rmtree(clean)
        for m in chosen:
            d = fresh_copy(files, base, m.name)
            apply(m, d)
            check_imports_from(d)
            t0 = time.perf_counter()
            rc, first, msg, tail, n_failed = run_tests(d, list(m.tests), stop=not args.every_test)
            secs = time.perf_counter() - t0
            if rc == 1 and first:
                # a failed assertion catches the bug; any other exception is a crash, which a
                # semantic mutant must not cause (it would say nothing about the property)
                kind = msg.split(":")[0].split()[0] if msg.strip() else "?"
                status = "caught" if kind in ("assert", "AssertionError") else f"CRASHED ({kind})"
            else:
                status = "MISSED" if rc == 0 else f"MISSED (pytest exit {rc})"
                if rc != 0:
                    print(tail, file=sys.stderr)
            rows.append((m.name, status, first or "-", secs))
            extra = f", {n_failed} failing test items" if args.every_test else ""
            print(f"  {m.name}: {status} ({secs:.1f} s{extra}){'' if status == 'caught' else ' ' + msg}", flush=True)
            shutil.rmtree(d)
    print()
    w = max((len(r[0]) for r in rows), default=6)
    wt = max((len(r[2]) for r in rows), default=4)
    print(f"{'mutant':{w}s}  {'result':8s}  {'caught by':{wt}s}  seconds")
    for name, status, first, secs in rows:
        print(f"{name:{w}s}  {status:8s}  {first:{wt}s}  {secs:7.1f}")
    for m in stale:
        print(f"{m.name:{w}s}  {'NOT FOUND':8s}  {'-':{wt}s}  {0.0:7.1f}")
    missed = [r for r in rows if r[1] != "caught"]
    print(f"\n{len(rows) - len(missed)} of {len(rows) + len(stale)} mutants caught"
          f"{f', {len(stale)} not found' if stale else ''}; {time.perf_counter() - t_all:.0f} s in all")
    return 1 if missed or stale else 0


if __name__ == "__main__":
    sys.exit(main())
