"""The camera's packets as evidence: the packet ring, slices from a keyframe, decode on demand, stream copy.

The clip is made here with PyAV's libx264 (what the wheels ship): 25 fps, a keyframe every 10 frames,
no B-frames, as an IP camera sends. Decoding is deterministic, so a frame decoded again from a slice
must equal the frame the source decoded in the first place.
"""

from __future__ import annotations

import base64
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from detector.av_sources import AvFileSource
from detector.config import EvidenceConfig
from detector.evidence.keys import Ed25519Signer
from detector.evidence.manifest import MANIFEST_NAME, SIGNATURE_NAME, parse_manifest, sha256_hex
from detector.evidence.packets import PacketRing, SliceDecoder, remux_clip
from detector.evidence.stage import EvidenceSink
from detector.evidence.verify import verify_chain
from detector.evidence.writer import BundleWriter
from tests.evidence.synthetic import camera_info, models, scene, violation

FPS, GOP, N = 25, 10, 75


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "cam.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"g": str(GOP), "keyint_min": str(GOP), "bf": "0", "sc_threshold": "0", "crf": "20"}
        for sf in scene(N, fps=FPS):
            vf = av.VideoFrame.from_ndarray(sf.frame.image, format="bgr24")
            vf.pts, vf.time_base = sf.frame.index, Fraction(1, FPS)
            for pkt in stream.encode(vf):
                out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    return path


def _read(clip: Path) -> tuple[AvFileSource, list]:
    src = AvFileSource(clip, "cam1")
    frames = list(src)
    return src, frames


def test_file_source_keeps_packets_and_stream_times(clip: Path) -> None:
    src, frames = _read(clip)
    assert [f.index for f in frames] == list(range(N))
    assert [f.timestamp for f in frames] == pytest.approx([i / FPS for i in range(N)])
    assert src.packets.stats.packets == N and src.packets.stats.segments == 1
    assert src.info.fps == pytest.approx(FPS) and (src.info.width, src.info.height) == (320, 240)


def test_slice_starts_at_the_keyframe_and_decodes_the_same_pixels(clip: Path) -> None:
    src, frames = _read(clip)
    piece = src.packets.slice(34, 47)
    assert piece is not None
    # frames 30..47 (from the keyframe at 30): packets 30..47
    assert piece.packets == 18 and min(piece.frame_pts) == 34 and max(piece.frame_pts) == 47
    decoder = SliceDecoder(piece, cache=4)
    decoder.prefetch({34, 40, 47})
    assert decoder.decoded == 18
    for i in (34, 40, 47, 41):  # 41 was not prefetched: decoded again from the keyframe
        assert np.array_equal(decoder.image(i), frames[i].image)
    assert src.packets.slice(200, 210) is None and src.packets.stats.misses == 1


def test_frames_asked_for_in_order_decode_the_slice_once(clip: Path) -> None:
    """An encoded clip asks for its frames one by one: the decoder goes on from where it stopped
    instead of decoding from the keyframe again for every frame (18 decodes, not 14 passes)."""
    src, frames = _read(clip)
    piece = src.packets.slice(34, 47)
    assert piece is not None
    decoder = SliceDecoder(piece, cache=4)
    for i in range(34, 48):
        assert np.array_equal(decoder.image(i), frames[i].image)
    assert decoder.decoded == 18  # frames 30..47, each once
    assert np.array_equal(decoder.image(36), frames[36].image)  # behind it, not cached: from the start
    assert decoder.decoded == 18 + 7 and decoder.is_open  # waiting at frame 36 for what comes next
    decoder.close()
    assert not decoder.is_open
    assert np.array_equal(decoder.image(47), frames[47].image)  # cached frames outlive the decoder
    assert decoder.is_open is False  # 47 was cached: nothing decoded, nothing opened
    decoder.prefetch({46, 47})  # both cached
    assert not decoder.is_open
    decoder.image(47 - 13)  # not cached (cache of 4): decoded from the keyframe, left open at 34
    assert decoder.is_open
    decoder.image(47)  # cached; the decoder stays where it is
    decoder.close()
    assert not decoder.is_open


def test_stream_copy_is_the_camera_packets(clip: Path, tmp_path: Path) -> None:
    src, frames = _read(clip)
    piece = src.packets.slice(34, 47)
    assert piece is not None
    res = remux_clip(piece, tmp_path / "clip.mp4")
    assert (res.codec, res.frame_count, res.width, res.height) == ("h264", 18, 320, 240)
    assert res.end_s == pytest.approx(17 / FPS)
    with av.open(str(clip)) as a, av.open(str(res.path)) as b:
        original = [bytes(p) for p in a.demux(a.streams.video[0]) if p.size][30:48]
        copied = [bytes(p) for p in b.demux(b.streams.video[0]) if p.size]
        assert copied == original  # byte for byte: no re-encode
        b.seek(0)
        decoded = [f.to_ndarray(format="bgr24") for f in b.decode(video=0)]
    assert b"".join(copied) and len(decoded) == 18
    assert np.array_equal(decoded[4], frames[34].image)


def test_ring_bounds_by_seconds_without_a_consumer_and_by_need_with_one(clip: Path) -> None:
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        ring = PacketRing(max_seconds=1.0)
        ring.start_segment(stream)
        for i, pkt in enumerate(c.demux(stream)):
            if pkt.size:
                ring.add_packet(pkt)
                ring.note_frame(i, pkt.pts)
        held = ring.stats.packets - ring.stats.evicted
        assert ring.stats.evicted > 0 and FPS <= held <= FPS + GOP  # whole GOPs: 1 s, at most a GOP more
        ring.release_before(52)  # a consumer: frame 52 still needed, so its keyframe (50) stays
        assert ring.slice(52, 60) is not None
        ring.release_before(70)
        assert ring.slice(60, 66) is None and ring.slice(70, 74) is not None


def test_sink_on_packets_writes_a_stream_copied_clip_that_verifies(clip: Path, tmp_path: Path) -> None:
    src = AvFileSource(clip, "cam1")
    signer = Ed25519Signer.generate()
    cfg = EvidenceConfig(pre_s=0.4, post_s=0.4)
    writer = BundleWriter(tmp_path / "ev", signer, camera_info(), models(), "c" * 64, config=cfg)
    sink = EvidenceSink(writer, cfg)
    sink.use_packets(src.packets)
    assert sink.compressor is None
    truth = {sf.frame.index: sf.detections for sf in scene(N, fps=FPS)}

    class Result:
        def __init__(self, frame, violations=()):
            self.frame, self.detections, self.violations = frame, truth[frame.index], violations

    for frame in src:
        sink.write(Result(frame, (violation(40, fps=FPS),) if frame.index == 40 else ()))
        item = sink.collector.ring.latest
        assert item is not None and item.held_bytes == 0  # no decoded frame is buffered
    sink.close()
    assert len(sink.written) == 1 and not sink.failures
    path = sink.written[0][1]
    m = parse_manifest((path / MANIFEST_NAME).read_bytes())
    assert m.manifest_version == 3 and m.clip is not None
    assert (m.clip.source, m.clip.encoder, m.clip.codec) == ("camera", "stream copy", "h264")
    assert m.clip.start_s == pytest.approx(30 / FPS) and m.clip.start_s <= 30 / FPS  # keyframe before 36
    assert verify_chain(tmp_path / "ev", [signer.public_key]).ok


def test_a_version_1_manifest_still_verifies(tmp_path: Path) -> None:
    """Bundles written before the clip's `source` field (manifest_version 1) keep verifying."""
    from detector.evidence.chain import load_chain_state, save_chain_state, sign_head
    from tests.evidence.synthetic import write_bundles

    signer = Ed25519Signer.generate()
    writer = BundleWriter(tmp_path, signer, camera_info(), models(), "c" * 64)
    [path] = write_bundles(writer, 1)
    raw = json.loads((path / MANIFEST_NAME).read_text())
    raw["manifest_version"] = 1
    if raw.get("clip"):
        raw["clip"].pop("source")
    body = (json.dumps(raw, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    (path / MANIFEST_NAME).write_bytes(body)
    sig = json.loads((path / SIGNATURE_NAME).read_text())
    sig.update(signature_b64=base64.b64encode(signer.sign(body)).decode(), manifest_sha256=sha256_hex(body))
    (path / SIGNATURE_NAME).write_text(json.dumps(sig, sort_keys=True, indent=2) + "\n")
    state = load_chain_state(tmp_path, "cam1")
    save_chain_state(
        tmp_path, sign_head(state.model_copy(update={"last_manifest_sha256": sha256_hex(body)}), signer)
    )
    m = parse_manifest(body)
    assert m.manifest_version == 1 and (m.clip is None or m.clip.source == "encoded")
    report = verify_chain(tmp_path, [signer.public_key])
    assert report.ok, report.all_problems()


def test_missing_timestamps_are_filled_monotonic_and_rescaled_like_ffmpeg() -> None:
    from detector.evidence.packets import _Segment, rescale

    seg = _Segment(None, None, Fraction(1, 90000), "h264")
    # an RTSP camera's first packet has no timestamps; a later DTS repeats
    assert [seg.stamps(p, d) for p, d in ((None, None), (3455, 3455), (7037, None), (9000, 7037))] == [
        (0, 0),
        (3455, 3455),
        (7037, 7037),
        (9000, 7038),
    ]
    assert seg.frame_pts(None) == 0 and seg.frame_pts(9000) == 9000 and seg.frame_pts(3455) == 3455
    # two frames stamped alike: the second packet moved a tick, and so does its decoded frame
    assert seg.stamps(9100, 9100) == (9100, 9100) and seg.stamps(9100, 9100) == (9101, 9101)
    assert (seg.frame_pts(9100), seg.frame_pts(9100), seg.frame_pts(9100)) == (9100, 9101, 9100)
    ms, tb = Fraction(1, 1000), Fraction(1, 90000)
    assert rescale(45, tb, ms) == 1 and rescale(44, tb, ms) == 0  # half up
    assert rescale(3600, tb, Fraction(1, 360000)) == 14400
