"""The printed notice: one self-contained HTML page in Vietnamese (pictures embedded), printable
on A4. Everything printed comes from the stored rows; text is escaped.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape

from detector.store.views import VN_TIME

PICTURE_ORDER = ("overview.jpg", "at.jpg", "plate.jpg", "vehicle.jpg")
PICTURE_CAPTION = {
    "overview.jpg": "Toàn cảnh tại thời điểm vi phạm",
    "at.jpg": "Khung hình ghi nhận vi phạm",
    "plate.jpg": "Biển kiểm soát",
    "vehicle.jpg": "Phương tiện",
    "entry-overview.jpg": "Camera đầu đoạn: toàn cảnh khi qua vạch đo",
    "entry-plate.jpg": "Camera đầu đoạn: biển kiểm soát",
}
SECTION_CAPTION = {
    "overview.jpg": "Camera cuối đoạn: toàn cảnh khi qua vạch đo",
    "plate.jpg": "Camera cuối đoạn: biển kiểm soát",
}


@dataclass(frozen=True, slots=True)
class NoticePrint:
    decision_no: str
    payment_ref: str
    owner_name: str
    owner_address: str
    unit_name: str
    unit_address: str
    plate_text: str
    plate_colour: str | None
    vehicle_type: str
    occurred_at: datetime
    place: str
    violation_text: str
    legal_basis: str
    detecting_unit: str
    amount_min_vnd: int
    amount_max_vnd: int
    amount_due_vnd: int
    points: int
    notified_at: datetime
    come_by: datetime
    portal_url: str
    evidence_event_id: str
    manifest_sha256: str
    pictures: tuple[tuple[str, bytes], ...]  # (file name, JPEG bytes)
    measures: tuple[tuple[str, str], ...] = ()  # what was measured, as printed (label, text)
    published_with_notice: bool = False  # Decree 168/2024 Art. 47(8)(a): posted as the notice is sent
    evidence_refs: tuple[tuple[str, str, str], ...] = ()  # (which camera, event id, manifest sha256)


def _vnd(x: int) -> str:
    return f"{x:,}".replace(",", ".") + " đồng"


def _time(t: datetime) -> str:
    return t.astimezone(VN_TIME).strftime("%H giờ %M phút, ngày %d/%m/%Y")


def _date(t: datetime) -> str:
    return t.astimezone(VN_TIME).strftime("%d/%m/%Y")


_CITATION = re.compile(r"Art\. (\d+)\((\d+)\)(?:\(([a-zđ]+)\))?")


def cite_vi(basis: str) -> str:
    """`Art. 6(9)(b)` as Vietnamese law is cited: `điểm b khoản 9 Điều 6`."""

    def one(m: re.Match[str]) -> str:
        point = f"điểm {m.group(3)} " if m.group(3) else ""
        return f"{point}khoản {m.group(2)} Điều {m.group(1)}"

    return _CITATION.sub(one, basis.replace("; trừ điểm ", "; trừ điểm giấy phép lái xe theo "))


COLOUR_VI = {"white": "nền trắng", "yellow": "nền vàng", "blue": "nền xanh", "red": "nền đỏ"}

CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { padding-top: 4mm; font-family: "Times New Roman", "DejaVu Serif", serif; font-size: 13pt; color: #000; max-width: 180mm;
       margin: 0 auto; }
.head { display: flex; justify-content: space-between; text-align: center; font-size: 12pt; }
.head div { width: 48%; }
h1 { font-size: 15pt; text-align: center; margin: 14px 0 2px; }
.no { text-align: center; margin-bottom: 12px; }
table.facts { border-collapse: collapse; width: 100%; }
table.facts td { border: 1px solid #444; padding: 4px 6px; vertical-align: top; }
table.facts td.k { width: 34%; font-weight: bold; }
.pics { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0; }
.pics figure { margin: 0; width: 48%; page-break-inside: avoid; }
.pics img { width: 100%; border: 1px solid #444; }
.pics figcaption { font-size: 10pt; text-align: center; }
.pay { border: 2px solid #000; padding: 6px 10px; margin-top: 8px; break-inside: avoid; }
.evidence { break-inside: avoid; }
.evidence h2 { font-size: 13pt; break-after: avoid; }
table.facts tr { break-inside: avoid; }
@media screen { body { margin: 12px auto; } }
.small { font-size: 10pt; color: #333; word-break: break-all; }
"""


def _num(m: Mapping[str, object], key: str) -> float | None:
    x = m.get(key)
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _clock(iso: object) -> str:
    try:
        t = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    return t.astimezone(VN_TIME).strftime("%H:%M:%S,") + f"{t.microsecond // 1000:03d} ngày " + _date(t)


def measure_rows(
    m: Mapping[str, object], section: Mapping[str, object] | None = None
) -> tuple[tuple[str, str], ...]:
    """The measured values a notice prints: the speed with its uncertainty and the limit; for a
    section (average speed: `section` holds both passages' times) the distance and both times."""
    speed, limit = _num(m, "speed_kmh"), _num(m, "speed_limit_kmh") or _num(m, "limit_kmh")
    if speed is None or limit is None:
        return ()
    unc = _num(m, "speed_uncertainty_kmh") or 0.0
    rows = [
        (
            "Tốc độ ghi nhận",
            f"{speed:.1f} km/h (sai số đo ± {unc:.1f} km/h; tính phạt theo {speed - unc:.1f} km/h); "
            f"tốc độ tối đa cho phép {limit:.0f} km/h",
        )
    ]
    dist = _num(m, "distance_m")
    if section and dist is not None:
        rows.append(
            (
                "Phương pháp đo",
                f"Tốc độ trung bình trên đoạn đường dài {dist:.1f} m giữa hai camera: qua camera đầu đoạn "
                f"({m.get('entry_camera')}) lúc {_clock(section.get('entry_time'))}, qua camera cuối đoạn "
                f"({m.get('exit_camera')}) lúc {_clock(section.get('exit_time'))}",
            )
        )
    return tuple(rows)


def render_notice_html(n: NoticePrint) -> str:
    """The notice as a complete HTML document (UTF-8)."""
    e = escape
    colour = COLOUR_VI.get(n.plate_colour or "", n.plate_colour or "không xác định")
    rows = [
        ("Biển kiểm soát", f"{n.plate_text} ({colour})"),
        ("Loại phương tiện", n.vehicle_type),
        ("Thời gian vi phạm", _time(n.occurred_at)),
        ("Địa điểm vi phạm", n.place),
        ("Hành vi vi phạm", n.violation_text),
        ("Căn cứ xử phạt", cite_vi(n.legal_basis)),
        ("Đơn vị phát hiện", n.detecting_unit),
        ("Mức phạt tiền", f"từ {_vnd(n.amount_min_vnd)} đến {_vnd(n.amount_max_vnd)}"),
        ("Số tiền nộp phạt", _vnd(n.amount_due_vnd)),
        ("Trừ điểm giấy phép lái xe", f"{n.points} điểm" if n.points else "không"),
    ]
    rows[5:5] = list(n.measures)  # after the offence, before its legal basis
    section = any(name.startswith("entry-") for name, _ in n.pictures)
    refs = "; ".join(
        f"{e(label)}: sự kiện {e(ev)}, manifest sha256 {e(sha)}"
        for label, ev, sha in n.evidence_refs or (("", n.evidence_event_id, n.manifest_sha256),)
    ).lstrip(": ")
    after = (
        "Thông tin phương tiện vi phạm được cập nhật trên trang tra cứu cùng với thông báo này "
        "(Điều 47 khoản 8 điểm a Nghị định 168/2024/NĐ-CP). Quá thời hạn trên, phương tiện được thông báo "
        "cho cơ quan đăng kiểm cho đến khi chấp hành xong (Điều 47 khoản 11)."
        if n.published_with_notice
        else "Quá thời hạn trên, vi phạm được công khai trên trang tra cứu và phương tiện được thông báo "
        "cho cơ quan đăng kiểm cho đến khi chấp hành xong (Điều 47 khoản 11 Nghị định 168/2024/NĐ-CP)."
    )
    captions = PICTURE_CAPTION | (SECTION_CAPTION if section else {})
    facts = "\n".join(f'<tr><td class="k">{e(k)}</td><td>{e(v)}</td></tr>' for k, v in rows)
    pics = "\n".join(
        f'<figure><img alt="{e(captions.get(name, name))}" '
        f'src="data:image/jpeg;base64,{base64.b64encode(data).decode("ascii")}">'
        f"<figcaption>{e(captions.get(name, name))}</figcaption></figure>"
        for name, data in n.pictures
    )
    return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<title>Thông báo vi phạm {e(n.decision_no)}</title><style>{CSS}</style></head>
<body>
<div class="head"><div><b>{e(n.unit_name.upper())}</b></div>
<div><b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b><br><u>Độc lập - Tự do - Hạnh phúc</u></div></div>
<h1>THÔNG BÁO<br>VI PHẠM HÀNH CHÍNH VỀ TRẬT TỰ, AN TOÀN GIAO THÔNG ĐƯỜNG BỘ<br>
ĐƯỢC PHÁT HIỆN QUA PHƯƠNG TIỆN, THIẾT BỊ KỸ THUẬT</h1>
<p class="no">Số: <b>{e(n.decision_no)}</b> &nbsp;·&nbsp; ngày {e(_date(n.notified_at))}</p>
<p>Kính gửi: <b>{e(n.owner_name)}</b><br>Địa chỉ: {e(n.owner_address)}</p>
<p>{e(n.unit_name)} thông báo: phương tiện do Ông/Bà (cơ quan, tổ chức) đứng tên trong chứng nhận đăng ký xe
đã được hệ thống giám sát ghi nhận vi phạm như sau (Nghị định 168/2024/NĐ-CP, Điều 47 khoản 6 điểm a):</p>
<table class="facts">
{facts}
</table>
<section class="evidence"><h2>Hình ảnh ghi nhận vi phạm</h2>
<div class="pics">
{pics}
</div></section>
<p>Đề nghị chủ phương tiện đến <b>{e(n.unit_name)}</b>, địa chỉ {e(n.unit_address)}, hoặc trực tuyến trên
Cổng dịch vụ công, <b>trước ngày {e(_date(n.come_by))}</b> để giải quyết. {e(after)}</p>
<div class="pay"><b>Cách nộp phạt</b><br>
Nộp trực tuyến tại: {e(n.portal_url)}<br>
Mã thanh toán: <b>{e(n.payment_ref)}</b> &nbsp;·&nbsp; Số tiền: <b>{e(_vnd(n.amount_due_vnd))}</b><br>
Hoặc nộp tại Kho bạc Nhà nước / ngân hàng thương mại ghi trong quyết định xử phạt, hoặc tại trụ sở đơn vị nêu trên.</div>
<p class="small">Dữ liệu chứng cứ: {refs}
(gói chứng cứ được ký số, kiểm tra bằng <code>detector verify</code>).</p>
</body></html>
"""
