"""The IDX reader and writer: exact bytes, round trips, and every kind of broken file."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from data_fakes import idx_bytes
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_cnn.atomic import write_atomically
from tinygrad_cnn.data import IDX_DTYPES, read_idx, write_idx

NATIVE_DTYPES = [dtype.newbyteorder("=") for dtype in IDX_DTYPES.values()]


def write_bytes(path: Path, data: bytes) -> Path:
    """Write raw bytes, gzip-compressed when the name ends in .gz."""
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def test_write_idx_produces_the_documented_bytes(tmp_path):
    array = np.array([[1, 2, 3], [4, 5, 255]], dtype=np.uint8)
    path = write_idx(tmp_path / "a-idx2-ubyte", array)
    expected = b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x03" + bytes(array.flat)
    assert path.read_bytes() == expected
    assert path.read_bytes() == idx_bytes(array)


def test_write_idx_gz_is_gzip_of_the_same_bytes_and_reproducible(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    first = write_idx(tmp_path / "a.gz", array).read_bytes()
    assert gzip.decompress(first) == idx_bytes(array)
    assert write_idx(tmp_path / "a.gz", array).read_bytes() == first


def test_read_idx_on_hand_written_bytes(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    for name in ("x-idx3-ubyte", "x-idx3-ubyte.gz"):
        out = read_idx(write_bytes(tmp_path / name, idx_bytes(array)), ndim=3)
        assert out.dtype == np.uint8 and out.shape == (2, 28, 28)
        np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", NATIVE_DTYPES, ids=str)
def test_round_trip_every_dtype(tmp_path, dtype, compressed):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = write_idx(tmp_path / ("a.gz" if compressed else "a"), array)
    out = read_idx(path, ndim=3)
    assert out.dtype == dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 1  # the result is writable


@given(
    hnp.arrays(
        st.sampled_from(NATIVE_DTYPES),
        hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    ),
    st.booleans(),
)
def test_round_trip_any_shape(tmp_path_factory, array, compressed):
    path = tmp_path_factory.mktemp("idx") / ("a.gz" if compressed else "a")
    out = read_idx(write_idx(path, array))
    assert out.shape == array.shape and out.dtype == array.dtype
    np.testing.assert_array_equal(out, array)


def test_big_endian_input_is_written_correctly(tmp_path):
    array = np.array([1.5, -2.25, 1e30], dtype=">f4")
    out = read_idx(write_idx(tmp_path / "f", array))
    np.testing.assert_array_equal(out, array.astype(np.float32))


def test_gzip_is_detected_from_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte"  # no .gz suffix, compressed content
    path.write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(path), array)


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))  # header 12 bytes + 12 values

CORRUPT = {
    "leading bytes": (b"\x01\x00" + GOOD[2:], "bad magic number 0x01000802"),
    "type code": (GOOD[:2] + b"\x07" + GOOD[3:], "unknown type code 0x07"),
    "no header": (GOOD[:3], "truncated: 3 bytes, no IDX header"),
    "empty": (b"", "truncated: 0 bytes"),
    "sizes cut": (GOOD[:9], "truncated in its header"),
    "data cut": (GOOD[:-1], "truncated"),
    "trailing": (GOOD + b"\x00", "trailing bytes|longer than its header says"),
}


@pytest.mark.parametrize("suffix", ["", ".gz"], ids=["raw", "gz"])
@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_files_raise_naming_the_file(tmp_path, case, suffix):
    data, message = CORRUPT[case]
    path = write_bytes(tmp_path / f"broken-{case.replace(' ', '_')}{suffix}", data)
    with pytest.raises(ValueError, match=re.escape(str(path))) as info:
        read_idx(path)
    assert re.search(message, str(info.value)), str(info.value)


@pytest.mark.parametrize("suffix", ["", ".gz"], ids=["raw", "gz"])
def test_wrong_number_of_dimensions(tmp_path, suffix):
    path = write_bytes(tmp_path / f"labels{suffix}", GOOD)  # a 2-d array
    with pytest.raises(ValueError, match=r"labels.*holds a 2-d array, expected 1-d"):
        read_idx(path, ndim=1)
    assert read_idx(path, ndim=2).shape == (3, 4)


def test_truncated_gzip_stream(tmp_path):
    compressed = gzip.compress(GOOD + bytes(1000))
    path = tmp_path / "cut.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_idx(path)


def test_corrupt_gzip_stream(tmp_path):
    compressed = bytearray(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8))))
    compressed[-8] ^= 0xFF  # the CRC of the content
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(ValueError, match=r"crc\.gz is not a valid gzip file"):
        read_idx(path)


def test_absurd_size_in_a_gzip_header_is_rejected_before_allocating(tmp_path):
    header = b"\x00\x00\x08\x03" + b"".join(d.to_bytes(4, "big") for d in (2**31, 2**16, 2**16))
    path = write_bytes(tmp_path / "huge.gz", header)
    with pytest.raises(ValueError, match=r"huge\.gz is corrupt: its header claims"):
        read_idx(path)


def test_argument_errors(tmp_path):
    path = write_idx(tmp_path / "a", np.zeros(3, np.uint8))
    with pytest.raises(TypeError, match="read_idx: ndim must be an int or None, got str"):
        read_idx(path, ndim="1")
    with pytest.raises(ValueError, match=r"read_idx: ndim must be in 0\.\.255"):
        read_idx(path, ndim=-1)
    with pytest.raises(TypeError, match="write_idx: dtype int64 cannot be stored"):
        write_idx(tmp_path / "b", np.zeros(3, np.int64))
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing")


def test_write_replaces_atomically_and_leaves_no_temporary_file(tmp_path):
    path = write_idx(tmp_path / "a", np.zeros(3, np.uint8))
    write_idx(path, np.ones(5, np.uint8))
    np.testing.assert_array_equal(read_idx(path), np.ones(5, np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, ValueError])
def test_interrupted_atomic_write_keeps_the_old_file(tmp_path, error):
    path = tmp_path / "a"
    path.write_bytes(b"old")

    def write(file):
        file.write(b"new, half written")
        raise error("stop")

    with pytest.raises(error):
        write_atomically(path, write)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a"]
