"""SSE parsing: event boundaries, line endings, comments, and the stamp each event keeps."""

from __future__ import annotations

import random

from bench.remote.sse import Decoder, Event, decode


def test_one_event_per_read_keeps_each_reads_stamp() -> None:
    events = decode([(10, b"data: a\n\n"), (20, b"data: b\n\n")])
    assert events == [Event(10, b"a"), Event(20, b"b")]


def test_several_events_in_one_read_share_its_stamp() -> None:
    assert decode([(5, b"data: a\n\ndata: b\n\n")]) == [Event(5, b"a"), Event(5, b"b")]


def test_an_event_split_across_reads_takes_the_stamp_of_the_read_that_completes_it() -> None:
    events = decode([(1, b"data: he"), (2, b"llo\n"), (3, b"\ndata: x\n\n")])
    assert events == [Event(3, b"hello"), Event(3, b"x")]


def test_crlf_and_cr_line_ends_and_a_crlf_split_between_reads() -> None:
    events = decode([(1, b"data: a\r\n\r"), (2, b"\ndata: b\r\r"), (3, b"data: c\n\n")])
    assert [e.data for e in events] == [b"a", b"b", b"c"]
    assert [e.t_ns for e in events] == [1, 2, 3]  # a CR ends a line at once


def test_multiline_data_event_name_and_comments() -> None:
    raw = b": ping\n\nevent: error\ndata: line1\ndata:line2\nid: 7\n\n"
    assert decode([(1, raw)]) == [Event(1, b"line1\nline2", "error")]


def test_comment_only_blocks_are_not_events() -> None:
    assert decode([(1, b": keep-alive\n\n: again\n\n")]) == []


def test_an_unterminated_last_event_is_kept_at_end_of_stream() -> None:
    assert decode([(1, b"data: [DONE]")]) == [Event(1, b"[DONE]")]


def test_random_splits_give_the_same_events_as_one_read() -> None:
    body = b"".join(b'data: {"n": %d}\n\n' % i for i in range(50)) + b"data: [DONE]\n\n"
    whole = [e.data for e in decode([(0, body)])]
    rng = random.Random(3)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(body)), 30))
        parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        assert [e.data for e in decode(enumerate(parts))] == whole


def test_incremental_decoder_matches_decode() -> None:
    decoder = Decoder()
    out = decoder.feed(1, b"data: a\n\nda") + decoder.feed(2, b"ta: b\n\n") + decoder.flush(3)
    assert out == [Event(1, b"a"), Event(2, b"b")]
