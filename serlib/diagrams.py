"""The model diagram of each chapter, as a declarative description drawn by :func:`serlib.plots.block_diagram`.

:data:`DIAGRAMS` maps a chapter's notebook stem to its description: ``blocks`` (name -> label,
position on a grid, kind of box) and ``arrows`` (source, target, label, style: solid for the
forward pass, dashed for a gradient, a loss or weights passed on). The chapters draw theirs with
:func:`draw`; changing a model's picture means changing its description here, nothing else.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DIAGRAMS", "draw"]


def _b(label: str, x: float, y: float, kind: str = "net") -> dict[str, Any]:
    return {"label": label, "at": (x, y), "kind": kind}


DIAGRAMS: dict[str, dict[str, Any]] = {
    "00_corpora": {
        "blocks": {
            "wav": _b("utterance\n(waveform)", 0, 0, "data"),
            "feats": _b("functionals\n(eGeMAPS or IS10)", 2.2, 0, "data"),
            "norm": _b("z-normalise\n(training folds,\nor per speaker)", 4.4, 0),
            "svm": _b("RBF-SVM", 6.6, 0, "output"),
            "uar": _b("UAR on the\nheld-out session", 8.8, 0, "loss"),
        },
        "arrows": [("wav", "feats"), ("feats", "norm"), ("norm", "svm"), ("svm", "uar")],
    },
    "01_sahu2018_gan": {
        "blocks": {
            "x": _b("real features x\n(1582-d)", 0, 2.2, "data"),
            "enc": _b("AAE encoder\nq(z | x)", 2.2, 2.2),
            "code": _b("2-d code", 4.4, 2.2, "data"),
            "prior": _b("Gaussian-mixture\nprior, one com-\nponent per emotion", 2.2, 3.6, "data"),
            "dcode": _b("code discriminator\n(prior vs codes)", 4.4, 3.6, "adversary"),
            "dec": _b("AAE decoder", 6.6, 2.2),
            "gan2d": _b("vanilla GAN\non 2-d codes", 6.6, 3.6),
            "noise": _b("emotion y, and z\nfrom its mixture\ncomponent", 0, 0.6, "data"),
            "G": _b("cGAN generator\nG(z, y)", 2.2, 0.6),
            "fake": _b("synthetic $\\tilde{x}$\n(1582-d)", 4.4, 0.6, "data"),
            "real": _b("real features x,\nemotion y", 2.2, -0.8, "data"),
            "D": _b("cGAN discriminator\nD(x, y)", 4.4, -0.8, "adversary"),
            "svm": _b("RBF-SVM on real\nand/or synthetic", 8.8, 1.4, "output"),
        },
        "arrows": [("x", "enc"), ("enc", "code"), ("prior", "dcode"), ("code", "dcode"), ("code", "dec"),
                   ("code", "gan2d", "trains"), ("dec", "G", "initialises", "dashed"), ("noise", "G"),
                   ("G", "fake"), ("fake", "D"), ("real", "D"), ("fake", "svm"), ("gan2d", "svm")],
    },
    "02_latif2020_mixup_gan": {
        "blocks": {
            "noise": _b("emotion y, and z\nfrom its mixture\ncomponent", 0, 2.2, "data"),
            "G": _b("generator\nG(z, y)", 2.2, 2.2),
            "real": _b("real features x,\nemotion y", 0, 0.6, "data"),
            "E": _b("BiGAN encoder\nE(x)", 2.2, -0.6),
            "mix": _b("mixup\nλ ~ Beta(α, α)", 4.4, 1.4, "data"),
            "D": _b("projection\ndiscriminator\nD(x, code, y)", 6.6, 1.4, "adversary"),
            "target": _b("BCE against λ\n(soft target)", 8.8, 1.4, "loss"),
            "dnn": _b("DNN classifier on\nreal, synthetic\nor both", 4.4, 3.4, "output"),
        },
        "arrows": [("noise", "G"), ("G", "mix", "fake"), ("real", "mix", "real"), ("real", "E"),
                   ("E", "D", "code E(x)"), ("mix", "D"), ("D", "target"), ("G", "dnn", "synthetic")],
    },
    "03_ahn_infogan": {
        "blocks": {
            "text": _b("transcript", 0, 3.6, "data"),
            "ft": _b("text encoder f_t\n(frozen)", 2.2, 3.6, "frozen"),
            "t": _b("text code t", 4.4, 3.6, "data"),
            "audio": _b("audio\n(log-mel frames)", 0, 2.2, "data"),
            "fa": _b("audio encoder f_a\n(stage 1)", 2.2, 2.2),
            "h": _b("real feature h", 4.4, 2.2, "data"),
            "align": _b("alignment\nL_CL + L_MI", 6.6, 3.6, "loss"),
            "noise": _b("noise z, emotion\ncode c, text code t", 0, 0.8, "data"),
            "G": _b("generator\nG(z, c, t)", 2.2, 0.8),
            "hhat": _b("generated $\\hat{h}$", 4.4, 0.8, "data"),
            "D": _b("discriminator D\n(mixup real/fake)", 6.6, 0.8, "adversary"),
            "Q": _b("heads W_y, W_t\nof stage 1: MI\nterms L_Iy, L_It", 4.4, -0.6, "loss"),
            "clf": _b("classifier W_y\nfine-tuned on\n$h$ and $\\hat{h}$ (stage 3)", 6.6, -0.6, "output"),
        },
        "arrows": [("text", "ft"), ("ft", "t"), ("audio", "fa"), ("fa", "h"), ("t", "align"), ("h", "align"),
                   ("noise", "G"), ("G", "hhat"), ("hhat", "D"), ("h", "D", "real"),
                   ("hhat", "Q"), ("Q", "clf", "", "dashed")],
    },
    "04_leow_speaker_adversarial": {
        "blocks": {
            "mfcc": _b("MFCC matrix\n(20 × frames)", 0, 1.4, "data"),
            "cnn": _b("2D CNN blocks\n(conv, BN, ELU,\npooling)", 2.2, 1.4),
            "gru": _b("biGRU +\nstatistics pooling", 4.4, 1.4),
            "emo": _b("emotion\nclassifier", 6.6, 2.6, "output"),
            "je": _b("J_e\n(cross-entropy)", 8.8, 2.6, "loss"),
            "grl": _b("gradient reversal\n(× −λ backwards)", 4.4, 0, "adversary"),
            "spk": _b("speaker\nclassifier", 6.6, 0, "adversary"),
            "js": _b("J_s\n(cross-entropy)", 8.8, 0, "loss"),
        },
        "arrows": [("mfcc", "cnn"), ("cnn", "gru"), ("gru", "emo", "h5"), ("emo", "je"), ("gru", "grl"),
                   ("grl", "spk"), ("spk", "js"), ("grl", "cnn", "−λ ∂J_s", "dashed")],
    },
    "05_pereira2018_began": {
        "blocks": {
            "noise": _b("z ~ U[−1, 1]", 0, 3.2, "data"),
            "G": _b("generator G(z)", 2.2, 3.2),
            "speech": _b("unlabelled speech:\n1-s STFT chunks", 0, 1.8, "data"),
            "enc": _b("encoder of the\nautoencoder D", 2.2, 1.8),
            "h": _b("bottleneck h", 4.4, 1.8, "data"),
            "dec": _b("decoder of D", 6.6, 1.8),
            "rec": _b("L1 reconstruction\n|v − D(v)|", 8.8, 1.8, "loss"),
            "k": _b("equilibrium\ncontroller k_t", 8.8, 3.2, "loss"),
            "lab": _b("labelled emotional\nspeech (chunks)", 0, 0.2, "data"),
            "frozen": _b("the same encoder,\nfrozen", 2.2, 0.2, "frozen"),
            "head": _b("supervised module\non the last\nconvolutional map", 4.4, 0.2),
            "out": _b("emotion, or\narousal and valence", 6.6, 0.2, "output"),
        },
        "arrows": [("noise", "G"), ("G", "enc", "generated"), ("speech", "enc"), ("enc", "h"), ("h", "dec"),
                   ("dec", "rec"), ("rec", "k"), ("enc", "frozen", "weights", "dashed"), ("lab", "frozen"),
                   ("frozen", "head"), ("head", "out")],
    },
}
"""Every chapter's model diagram, keyed by the chapter's notebook stem."""


def draw(stem: str, **kwargs: Any) -> Any:
    """The diagram of chapter ``stem`` as a matplotlib Figure (``kwargs`` go to
    :func:`serlib.plots.block_diagram`)."""
    from .plots import block_diagram

    if stem not in DIAGRAMS:
        raise KeyError(f"no diagram for chapter {stem!r} in serlib.diagrams.DIAGRAMS; known: {sorted(DIAGRAMS)}")
    return block_diagram(**DIAGRAMS[stem], **kwargs)
