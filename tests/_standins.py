"""Tiny randomly initialised local Hugging Face checkpoints that stand in for the paper's encoders
(wav2vec2-large-robust, RoBERTa-large, Llama 3, AST, BERT) in tests: same classes, same folder
layout, a few thousand weights. Nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

WORDS = ("i", "will", "send", "you", "the", "report", "tomorrow", "meeting", "starts", "at", "nine", "we", "took",
         "usual", "road", "home", "that", "is", "not", "what", "promised", "me", "stop", "wasting", "my", "time",
         "with", "this", "never", "listen", "to", "anything", "miss", "way", "things", "used", "be", "nobody",
         "called", "back", "after", "it", "all", "went", "wrong", "again", "best", "news", "year", "love", "how",
         "turned", "out", "finally", "made", "hooray")
DIM = 16


def wav2vec2(folder: Path) -> Path:
    """A 1-layer wav2vec 2.0 (hidden size 16) with its feature extractor."""
    import transformers

    cfg = transformers.Wav2Vec2Config(hidden_size=DIM, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 8),
                                      num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2, vocab_size=8)
    transformers.Wav2Vec2Model(cfg).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                          do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return folder


def roberta(folder: Path) -> Path:
    """A 1-layer RoBERTa with a byte-level BPE tokenizer over single characters."""
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    chars = sorted(set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-")) + ["\u0120"]
    vocab = {tok: i for i, tok in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>", *chars])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    transformers.RobertaTokenizerFast(vocab_file=str(folder / "vocab.json"),
                                      merges_file=str(folder / "merges.txt")).save_pretrained(folder)
    cfg = transformers.RobertaConfig(vocab_size=len(vocab), hidden_size=DIM, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=130)
    transformers.RobertaModel(cfg).save_pretrained(folder)
    return folder


def llama(folder: Path) -> Path:
    """A 1-layer Llama with a word-level tokenizer and no padding token (as Llama ships)."""
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {tok: i for i, tok in enumerate(["<unk>", "<s>", "</s>", *WORDS, ".", "!", ","])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",
                                                eos_token="</s>")
    fast.save_pretrained(folder)
    cfg = transformers.LlamaConfig(vocab_size=len(vocab), hidden_size=DIM, intermediate_size=32, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256)
    transformers.LlamaModel(cfg).save_pretrained(folder)
    return folder
