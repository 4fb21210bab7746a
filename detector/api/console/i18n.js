// Labels of the console in Vietnamese (default) and English. t(key) gives the current language's text.
const LABELS = {
  vi: {
    title: "Trung tâm chỉ huy", subtitle: "Camera giám sát giao thông",
    nav_feed: "Vi phạm", nav_review: "Duyệt vi phạm", nav_lookup: "Tra cứu phạt nguội", nav_cameras: "Camera",
    sign_in: "Đăng nhập", sign_out: "Đăng xuất", token_label: "Mã truy cập (token API)",
    token_help: "Mã do quản trị viên cấp bằng lệnh “detector tokens create”. Mã chỉ được giữ trong thẻ trình duyệt này.",
    token_bad: "Mã không hợp lệ, đã thu hồi hoặc đã hết hạn.", forbidden: "Vai trò của bạn không được xem trang này.",
    role: "Vai trò", live: "Trực tiếp", reconnecting: "Đang kết nối lại…", no_violations: "Chưa có vi phạm nào.",
    loading: "Đang tải…", error: "Lỗi",
    pending: "Chờ duyệt", confirmed: "Đã xác nhận", rejected: "Đã bác bỏ",
    red_light: "Vượt đèn đỏ", speeding: "Chạy quá tốc độ", wrong_way: "Đi ngược chiều",
    stop_line: "Vượt vạch dừng", lane_restriction: "Đi sai làn đường", solid_line: "Đè vạch liền", no_stopping: "Dừng, đỗ sai quy định",
    car: "Ô tô", motorcycle: "Mô tô, xe máy", bus: "Xe khách", truck: "Xe tải", bicycle: "Xe đạp", person: "Người",
    plate: "Biển kiểm soát", no_plate: "Không đọc được biển", camera: "Camera", time: "Thời gian", place: "Địa điểm",
    vehicle: "Phương tiện", evidence: "Hình ảnh chứng cứ", clip: "Đoạn video", measured: "Số đo",
    all_measured: "Mọi giá trị đo của luật", signal: "Đèn tín hiệu", phase: "Pha đèn", into_red: "Thời gian sau khi đèn đỏ",
    amber: "Đèn vàng trước đó", speed: "Tốc độ", limit: "Tốc độ cho phép", lane: "Làn đường",
    candidates: "Các cách đọc khác", confidence: "độ tin cậy", needs_review: "Cần người kiểm tra",
    integrity: "Chữ ký và chuỗi băm", signature: "Chữ ký số", sig_ok: "Hợp lệ", sig_bad: "KHÔNG hợp lệ",
    key_id: "Khóa ký", files_checked: "Tệp đã kiểm tra", manifest_same: "Manifest đúng bản đã nhận",
    chain: "Chuỗi băm", chain_prev: "Liên kết với bản trước", chain_next: "Liên kết với bản sau",
    linked: "khớp", broken: "ĐỨT", missing: "thiếu bản trước", none: "không có", accepted_at: "Nhận vào kho lúc",
    yes: "có", no: "KHÔNG", sequence: "Số thứ tự",
    review: "Duyệt", confirm: "Xác nhận", reject: "Bác bỏ", reason: "Lý do", plate_fix: "Sửa biển số (nếu đọc sai)",
    reason_needed: "Bác bỏ cần ghi lý do.", reviewed_by: "Người duyệt", review_done: "Đã ghi vào nhật ký kiểm toán.",
    fine_issued: "Đã lập thông báo phạt", queue_empty: "Không còn vi phạm chờ duyệt.", open: "Mở",
    lookup_title: "Tra cứu phạt nguội", lookup_help: "Nhập biển số xe theo bất kỳ cách viết nào, ví dụ 51F-123.45 hoặc 51f12345.",
    search: "Tra cứu", no_fines: "Không có vi phạm nào của biển số này.", notice: "Thông báo vi phạm",
    vehicle_type: "Loại phương tiện", plate_colour: "Màu biển", violation_text: "Hành vi vi phạm",
    legal_basis: "Căn cứ pháp lý", fine_range: "Mức phạt", amount_due: "Số tiền phải nộp", points: "Trừ điểm giấy phép lái xe",
    unit: "Đơn vị phát hiện", status: "Trạng thái", unpaid: "Chưa nộp phạt", paid: "Đã nộp phạt", cancelled: "Đã hủy",
    pay: "Nộp phạt", paid_receipt: "Đã nộp. Biên lai", pay_role: "Chỉ tài khoản thu phạt (payments) mới nộp được.",
    points_unit: "điểm", rate_limited: "Tra cứu quá nhanh, thử lại sau",
    cameras_title: "Tình trạng camera", online: "Hoạt động", offline: "Mất kết nối", stale: "Không có nhịp tim",
    last_heartbeat: "Nhịp tim cuối", fps: "Khung hình/giây", dropped: "Khung bị bỏ", queue: "Hàng đợi",
    latency: "Độ trễ p95", disk: "Đĩa trống", outbox: "Chờ gửi MQTT", uptime: "Thời gian chạy", no_cameras:
      "Chưa có camera nào gửi trạng thái. Bật camera_health trong cấu hình kho và chạy “detector run --mqtt”.",
    fps_history: "Khung/giây gần đây", ago: "trước", back: "Quay lại", violation: "Vi phạm", red: "Đỏ", amber_phase: "Vàng", green: "Xanh",
    "overview.jpg": "Toàn cảnh", "before.jpg": "Trước vi phạm", "at.jpg": "Lúc vi phạm", "after.jpg": "Sau vi phạm",
    "vehicle.jpg": "Phương tiện", "plate.jpg": "Biển số", duration_in_lane: "Thời gian trong làn",
    nav_traffic: "Lưu lượng", nav_alerts: "Cảnh báo",
    traffic_title: "Lưu lượng giao thông", day: "Ngày", group_by: "Nhóm theo", by_class: "Theo loại xe", by_lane: "Theo làn",
    chart_title: "Số phương tiện qua vạch đếm theo khoảng thời gian", vehicles: "Phương tiện", intervals: "khoảng thời gian",
    interval_start: "Bắt đầu khoảng", intervals_per_bar: "khoảng mỗi cột", per_lane: "Theo làn và khoảng thời gian",
    speed_median: "Tốc độ trung vị (km/h)", speed_p85: "Tốc độ phân vị 85 (km/h)", occupancy: "Độ chiếm dụng",
    queue_m: "Hàng chờ dài nhất (m)", congestion: "Mức ùn tắc", off_lane: "Ngoài làn",
    cg_free: "Thông thoáng", cg_moderate: "Đông", cg_heavy: "Ùn ứ", cg_jammed: "Ùn tắc",
    showing_newest: "Hiện các dòng mới nhất", no_stats_day: "Không có số liệu trong ngày này.",
    no_stats: "Chưa có số liệu lưu lượng. Tính bằng lệnh “detector stats compute” trên bản ghi quỹ đạo của camera.",
    alerts_title: "Cảnh báo xe bị truy tìm", alerts_help: "Camera đọc biển số của mọi xe đi qua; cảnh báo hiện ngay khi gặp biển số trong danh sách truy tìm.",
    no_alerts: "Chưa có cảnh báo nào.", wanted_vehicle: "Xe bị truy tìm", plate_read: "Biển số đọc được", wanted_plate: "Biển số bị truy tìm",
    match_exact: "Khớp chính xác", match_tolerant: "Khớp gần đúng", match_how: "Cách khớp", track: "Lượt xe (track)",
    reason_stolen: "xe bị trộm cắp", reason_hit_and_run: "gây tai nạn rồi bỏ chạy", reason_wanted: "đang bị truy nã",
    no_picture: "Không có ảnh", picture_elsewhere: "Ảnh nằm trên thiết bị camera",
  },
  en: {
    title: "Command centre", subtitle: "Traffic enforcement cameras",
    nav_feed: "Violations", nav_review: "Review", nav_lookup: "Fine lookup", nav_cameras: "Cameras",
    sign_in: "Sign in", sign_out: "Sign out", token_label: "Access token (API token)",
    token_help: "Issued by an administrator with “detector tokens create”. It is kept only in this browser tab.",
    token_bad: "The token is invalid, revoked or expired.", forbidden: "Your role may not see this page.",
    role: "Role", live: "Live", reconnecting: "Reconnecting…", no_violations: "No violations yet.",
    loading: "Loading…", error: "Error",
    pending: "Pending", confirmed: "Confirmed", rejected: "Rejected",
    red_light: "Red light", speeding: "Speeding", wrong_way: "Wrong way",
    stop_line: "Stop line crossed", lane_restriction: "Wrong lane", solid_line: "Solid line crossed", no_stopping: "No stopping",
    car: "Car", motorcycle: "Motorbike", bus: "Bus", truck: "Truck", bicycle: "Bicycle", person: "Person",
    plate: "Plate", no_plate: "No plate read", camera: "Camera", time: "Time", place: "Place",
    vehicle: "Vehicle", evidence: "Evidence images", clip: "Clip", measured: "Measurements",
    all_measured: "Every value the rule measured", signal: "Signal", phase: "Phase", into_red: "Time into red",
    amber: "Amber before it", speed: "Speed", limit: "Speed limit", lane: "Lane",
    candidates: "Other readings", confidence: "confidence", needs_review: "Needs a person's check",
    integrity: "Signature and hash chain", signature: "Signature", sig_ok: "Valid", sig_bad: "NOT valid",
    key_id: "Signing key", files_checked: "Files checked", manifest_same: "Manifest is the one accepted",
    chain: "Hash chain", chain_prev: "Link to the previous bundle", chain_next: "Link to the next bundle",
    linked: "linked", broken: "BROKEN", missing: "previous bundle missing", none: "none", accepted_at: "Accepted at",
    yes: "yes", no: "NO", sequence: "Sequence",
    review: "Review", confirm: "Confirm", reject: "Reject", reason: "Reason", plate_fix: "Corrected plate (if misread)",
    reason_needed: "A rejection needs a reason.", reviewed_by: "Reviewed by", review_done: "Written to the audit log.",
    fine_issued: "Notice issued", queue_empty: "Nothing left to review.", open: "Open",
    lookup_title: "Look up fines", lookup_help: "Type the plate in any form, e.g. 51F-123.45 or 51f12345.",
    search: "Look up", no_fines: "No fines for this plate.", notice: "Violation notice",
    vehicle_type: "Vehicle type", plate_colour: "Plate colour", violation_text: "Offence",
    legal_basis: "Legal basis", fine_range: "Fine range", amount_due: "Amount due", points: "Licence points deducted",
    unit: "Detecting unit", status: "Status", unpaid: "Unpaid", paid: "Paid", cancelled: "Cancelled",
    pay: "Pay", paid_receipt: "Paid. Receipt", pay_role: "Only a payments account can pay.",
    points_unit: "points", rate_limited: "Too many lookups; try again in",
    cameras_title: "Camera health", online: "Online", offline: "Offline", stale: "No heartbeat",
    last_heartbeat: "Last heartbeat", fps: "fps", dropped: "Dropped", queue: "Queue",
    latency: "Latency p95", disk: "Disk free", outbox: "MQTT backlog", uptime: "Uptime", no_cameras:
      "No camera has reported yet. Enable camera_health in the store config and run “detector run --mqtt”.",
    fps_history: "Recent fps", ago: "ago", back: "Back", violation: "Violation", red: "Red", amber_phase: "Amber", green: "Green",
    "overview.jpg": "Overview", "before.jpg": "Before", "at.jpg": "At the moment", "after.jpg": "After",
    "vehicle.jpg": "Vehicle", "plate.jpg": "Plate", duration_in_lane: "Time in the lane",
    nav_traffic: "Traffic", nav_alerts: "Alerts",
    traffic_title: "Traffic counts", day: "Day", group_by: "Group by", by_class: "By class", by_lane: "By lane",
    chart_title: "Vehicles crossing the counting line per interval", vehicles: "Vehicles", intervals: "intervals",
    interval_start: "Interval start", intervals_per_bar: "intervals per bar", per_lane: "Per lane and interval",
    speed_median: "Median speed (km/h)", speed_p85: "85th percentile speed (km/h)", occupancy: "Occupancy",
    queue_m: "Longest queue (m)", congestion: "Congestion", off_lane: "Off lane",
    cg_free: "Free flow", cg_moderate: "Moderate", cg_heavy: "Heavy", cg_jammed: "Jammed",
    showing_newest: "Showing the newest rows", no_stats_day: "No statistics on this day.",
    no_stats: "No traffic statistics yet. Compute them with “detector stats compute” on a camera's track records.",
    alerts_title: "Hotlist alerts", alerts_help: "Cameras read the plate of every passing vehicle; an alert shows here as soon as a wanted plate is seen.",
    no_alerts: "No alerts yet.", wanted_vehicle: "Wanted vehicle", plate_read: "Plate read", wanted_plate: "Wanted plate",
    match_exact: "Exact match", match_tolerant: "Tolerant match", match_how: "How it matched", track: "Passage (track)",
    reason_stolen: "stolen", reason_hit_and_run: "hit and run", reason_wanted: "wanted",
    no_picture: "No picture", picture_elsewhere: "The picture is on the camera's edge box",
  },
};

let lang = localStorage.getItem("detector.lang") === "en" ? "en" : "vi";

export function t(key) {
  return LABELS[lang][key] ?? LABELS.en[key] ?? key;
}

export function language() {
  return lang;
}

export function setLanguage(value) {
  lang = value === "en" ? "en" : "vi";
  localStorage.setItem("detector.lang", lang);
  document.documentElement.lang = lang;
}

// Static labels: every element with data-i18n="key".
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

export function formatTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB", {
    timeZone: "Asia/Ho_Chi_Minh", dateStyle: "short", timeStyle: "medium",
  }).format(d);
}

export function formatVnd(n) {
  return new Intl.NumberFormat("vi-VN").format(n) + " ₫";
}

export function formatBytes(n) {
  if (n == null) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

export function formatAge(seconds) {
  if (seconds == null) return "–";
  return `${formatDuration(seconds)} ${t("ago")}`;
}
