"""Part uploads from reused buffers (multicloud.clouds.common.upload_parts) and the one-request GCS
body that withholds its last part until the stream is checked: bounded buffers, order, no part
lost or reused while in flight, and a refusal before the last byte leaves."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time

import pytest

from multicloud.clouds.common import ViewReader, upload_parts
from multicloud.clouds.gcp.storage import _OneShotBody
from multicloud.core.errors import InvalidInput, PreconditionFailed
from multicloud.core.objects import HashingReader, check_stream


def test_parts_arrive_whole_in_order_with_bounded_buffers_and_in_flight():
    data = os.urandom(10 * 64 + 17)
    reader = HashingReader(io.BytesIO(data))
    first = reader.read_exactly(64)
    in_flight, peak, lock, seen = 0, 0, threading.Lock(), {}

    def upload(number, part):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        body = bytes(part.read()) if isinstance(part, ViewReader) else part
        time.sleep(0.005 * (number % 3))  # out-of-order completion: a reused buffer must not be overwritten
        with lock:
            in_flight -= 1
            seen[number] = body
        return number

    assert upload_parts(first, reader, upload, part_size=64, concurrency=3) == list(range(1, 12))
    assert peak <= 3
    assert b"".join(seen[n] for n in sorted(seen)) == data
    assert [len(seen[n]) for n in sorted(seen)][-1] == 17


def test_an_exact_multiple_uploads_no_empty_part():
    reader = HashingReader(io.BytesIO(b"x" * 128))
    first = reader.read_exactly(64)
    sizes = []
    upload_parts(first, reader, lambda n, p: sizes.append(len(p)), part_size=64, concurrency=2)
    assert sorted(sizes) == [64, 64]


def test_a_failed_part_stops_the_upload():
    reader = HashingReader(io.BytesIO(b"x" * 64 * 50))
    first = reader.read_exactly(64)

    def upload(number, part):
        if number == 3:
            raise PreconditionFailed("refused", target="t")
        return number

    with pytest.raises(PreconditionFailed):
        upload_parts(first, reader, upload, part_size=64, concurrency=2)
    assert reader.bytes_read < 64 * 50  # it did not read the whole stream first


def test_view_reader_rewinds_for_a_resend():
    r = ViewReader(memoryview(b"abcdef"))
    assert len(r) == 6 and bytes(r.read(4)) == b"abcd"
    r.seek(0)
    assert bytes(r.read()) == b"abcdef"


def _drain(body: _OneShotBody) -> bytes:
    out = []
    while chunk := body.read(5):
        out.append(bytes(chunk))
    return b"".join(out)


def test_one_shot_body_sends_everything_once_checked():
    data = os.urandom(100)
    reader = HashingReader(io.BytesIO(data))
    checked = []
    body = _OneShotBody(reader, len(data), lambda: checked.append(reader.bytes_read), part_size=16)
    assert len(body) == 100
    assert _drain(body) == data
    assert checked == [100]


@pytest.mark.parametrize("size,expected,error", [
    (100, "0" * 64, PreconditionFailed),  # wrong content
    (120, None, InvalidInput),  # the stream is shorter than announced
    (80, None, InvalidInput),  # longer: refused before more than `size` bytes could be sent
])
def test_one_shot_body_withholds_the_last_part_when_the_check_fails(size, expected, error):
    data = os.urandom(100)
    reader = HashingReader(io.BytesIO(data))
    body = _OneShotBody(reader, size, lambda: check_stream(reader, size, expected, "t"), part_size=16)
    sent = []
    with pytest.raises(error):
        while chunk := body.read(16):
            sent.append(bytes(chunk))
    assert len(b"".join(sent)) < min(size, len(data))
    assert hashlib.sha256(b"".join(sent)).hexdigest() != hashlib.sha256(data).hexdigest()
