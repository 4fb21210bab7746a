// Every label of the console once: key: [Vietnamese (the default), English]. t(key) gives the current
// language's text.
const LANGUAGES = ["vi", "en"];
const TEXTS = {
  title: ["Trung tâm chỉ huy", "Command centre"],
  subtitle: ["Camera giám sát giao thông", "Traffic enforcement cameras"],
  nav_feed: ["Vi phạm", "Violations"],
  nav_review: ["Duyệt vi phạm", "Review"],
  nav_lookup: ["Tra cứu phạt nguội", "Fine lookup"],
  nav_cameras: ["Camera", "Cameras"],
  sign_in: ["Đăng nhập", "Sign in"],
  sign_out: ["Đăng xuất", "Sign out"],
  token_label: ["Mã truy cập (token API)", "Access token (API token)"],
  token_help: ["Mã do quản trị viên cấp bằng lệnh “detector tokens create”. Mã chỉ được giữ trong thẻ trình duyệt này.", "Issued by an administrator with “detector tokens create”. It is kept only in this browser tab."],
  token_bad: ["Mã không hợp lệ, đã thu hồi hoặc đã hết hạn.", "The token is invalid, revoked or expired."],
  forbidden: ["Vai trò của bạn không được xem trang này.", "Your role may not see this page."],
  role: ["Vai trò", "Role"],
  live: ["Trực tiếp", "Live"],
  reconnecting: ["Đang kết nối lại…", "Reconnecting…"],
  no_violations: ["Chưa có vi phạm nào.", "No violations yet."],
  loading: ["Đang tải…", "Loading…"],
  error: ["Lỗi", "Error"],
  pending: ["Chờ duyệt", "Pending"],
  confirmed: ["Đã xác nhận", "Confirmed"],
  rejected: ["Đã bác bỏ", "Rejected"],
  red_light: ["Vượt đèn đỏ", "Red light"],
  speeding: ["Chạy quá tốc độ", "Speeding"],
  wrong_way: ["Đi ngược chiều", "Wrong way"],
  stop_line: ["Vượt vạch dừng", "Stop line crossed"],
  lane_restriction: ["Đi sai làn đường", "Wrong lane"],
  solid_line: ["Đè vạch liền", "Solid line crossed"],
  no_stopping: ["Dừng, đỗ sai quy định", "No stopping"],
  car: ["Ô tô", "Car"],
  motorcycle: ["Mô tô, xe máy", "Motorbike"],
  bus: ["Xe khách", "Bus"],
  truck: ["Xe tải", "Truck"],
  bicycle: ["Xe đạp", "Bicycle"],
  person: ["Người", "Person"],
  plate: ["Biển kiểm soát", "Plate"],
  no_plate: ["Không đọc được biển", "No plate read"],
  camera: ["Camera", "Camera"],
  time: ["Thời gian", "Time"],
  place: ["Địa điểm", "Place"],
  vehicle: ["Phương tiện", "Vehicle"],
  evidence: ["Hình ảnh chứng cứ", "Evidence images"],
  clip: ["Đoạn video", "Clip"],
  measured: ["Số đo", "Measurements"],
  all_measured: ["Mọi giá trị đo của luật", "Every value the rule measured"],
  signal: ["Đèn tín hiệu", "Signal"],
  phase: ["Pha đèn", "Phase"],
  into_red: ["Thời gian sau khi đèn đỏ", "Time into red"],
  amber: ["Đèn vàng trước đó", "Amber before it"],
  speed: ["Tốc độ", "Speed"],
  limit: ["Tốc độ cho phép", "Speed limit"],
  lane: ["Làn đường", "Lane"],
  candidates: ["Các cách đọc khác", "Other readings"],
  confidence: ["độ tin cậy", "confidence"],
  needs_review: ["Cần người kiểm tra", "Needs a person's check"],
  integrity: ["Chữ ký và chuỗi băm", "Signature and hash chain"],
  signature: ["Chữ ký số", "Signature"],
  sig_ok: ["Hợp lệ", "Valid"],
  sig_bad: ["KHÔNG hợp lệ", "NOT valid"],
  key_id: ["Khóa ký", "Signing key"],
  files_checked: ["Tệp đã kiểm tra", "Files checked"],
  manifest_same: ["Manifest đúng bản đã nhận", "Manifest is the one accepted"],
  chain: ["Chuỗi băm", "Hash chain"],
  chain_prev: ["Liên kết với bản trước", "Link to the previous bundle"],
  chain_next: ["Liên kết với bản sau", "Link to the next bundle"],
  linked: ["khớp", "linked"],
  broken: ["ĐỨT", "BROKEN"],
  missing: ["thiếu bản trước", "previous bundle missing"],
  none: ["không có", "none"],
  accepted_at: ["Nhận vào kho lúc", "Accepted at"],
  yes: ["có", "yes"],
  no: ["KHÔNG", "NO"],
  sequence: ["Số thứ tự", "Sequence"],
  review: ["Duyệt", "Review"],
  confirm: ["Xác nhận", "Confirm"],
  reject: ["Bác bỏ", "Reject"],
  reason: ["Lý do", "Reason"],
  plate_fix: ["Sửa biển số (nếu đọc sai)", "Corrected plate (if misread)"],
  reason_needed: ["Bác bỏ cần ghi lý do.", "A rejection needs a reason."],
  reviewed_by: ["Người duyệt", "Reviewed by"],
  review_done: ["Đã ghi vào nhật ký kiểm toán.", "Written to the audit log."],
  fine_issued: ["Đã lập thông báo phạt", "Notice issued"],
  queue_empty: ["Không còn vi phạm chờ duyệt.", "Nothing left to review."],
  open: ["Mở", "Open"],
  lookup_title: ["Tra cứu phạt nguội", "Look up fines"],
  lookup_help: ["Nhập biển số xe theo bất kỳ cách viết nào, ví dụ 51F-123.45 hoặc 51f12345.", "Type the plate in any form, e.g. 51F-123.45 or 51f12345."],
  search: ["Tra cứu", "Look up"],
  no_fines: ["Không có vi phạm nào của biển số này.", "No fines for this plate."],
  notice: ["Thông báo vi phạm", "Violation notice"],
  vehicle_type: ["Loại phương tiện", "Vehicle type"],
  plate_colour: ["Màu biển", "Plate colour"],
  violation_text: ["Hành vi vi phạm", "Offence"],
  legal_basis: ["Căn cứ pháp lý", "Legal basis"],
  fine_range: ["Mức phạt", "Fine range"],
  amount_due: ["Số tiền phải nộp", "Amount due"],
  points: ["Trừ điểm giấy phép lái xe", "Licence points deducted"],
  unit: ["Đơn vị phát hiện", "Detecting unit"],
  status: ["Trạng thái", "Status"],
  unpaid: ["Chưa nộp phạt", "Unpaid"],
  paid: ["Đã nộp phạt", "Paid"],
  cancelled: ["Đã hủy", "Cancelled"],
  pay: ["Nộp phạt", "Pay"],
  paid_receipt: ["Đã nộp. Biên lai", "Paid. Receipt"],
  pay_role: ["Chỉ tài khoản thu phạt (payments) mới nộp được.", "Only a payments account can pay."],
  points_unit: ["điểm", "points"],
  rate_limited: ["Tra cứu quá nhanh, thử lại sau", "Too many lookups; try again in"],
  cameras_title: ["Tình trạng camera", "Camera health"],
  online: ["Hoạt động", "Online"],
  offline: ["Mất kết nối", "Offline"],
  stale: ["Không có nhịp tim", "No heartbeat"],
  last_heartbeat: ["Nhịp tim cuối", "Last heartbeat"],
  fps: ["Khung hình/giây", "fps"],
  dropped: ["Khung bị bỏ", "Dropped"],
  queue: ["Hàng đợi", "Queue"],
  latency: ["Độ trễ p95", "Latency p95"],
  disk: ["Đĩa trống", "Disk free"],
  outbox: ["Chờ gửi MQTT", "MQTT backlog"],
  uptime: ["Thời gian chạy", "Uptime"],
  no_cameras: ["Chưa có camera nào gửi trạng thái. Bật camera_health trong cấu hình kho và chạy “detector run --mqtt”.", "No camera has reported yet. Enable camera_health in the store config and run “detector run --mqtt”."],
  fps_history: ["Khung/giây gần đây", "Recent fps"],
  ago: ["trước", "ago"],
  back: ["Quay lại", "Back"],
  violation: ["Vi phạm", "Violation"],
  red: ["Đỏ", "Red"],
  amber_phase: ["Vàng", "Amber"],
  green: ["Xanh", "Green"],
  "overview.jpg": ["Toàn cảnh", "Overview"],
  "before.jpg": ["Trước vi phạm", "Before"],
  "at.jpg": ["Lúc vi phạm", "At the moment"],
  "after.jpg": ["Sau vi phạm", "After"],
  "vehicle.jpg": ["Phương tiện", "Vehicle"],
  "plate.jpg": ["Biển số", "Plate"],
  duration_in_lane: ["Thời gian trong làn", "Time in the lane"],
  nav_traffic: ["Lưu lượng", "Traffic"],
  nav_alerts: ["Cảnh báo", "Alerts"],
  traffic_title: ["Lưu lượng giao thông", "Traffic counts"],
  day: ["Ngày", "Day"],
  group_by: ["Nhóm theo", "Group by"],
  by_class: ["Theo loại xe", "By class"],
  by_lane: ["Theo làn", "By lane"],
  chart_title: ["Số phương tiện qua vạch đếm theo khoảng thời gian", "Vehicles crossing the counting line per interval"],
  vehicles: ["Phương tiện", "Vehicles"],
  intervals: ["khoảng thời gian", "intervals"],
  interval_start: ["Bắt đầu khoảng", "Interval start"],
  intervals_per_bar: ["khoảng mỗi cột", "intervals per bar"],
  per_lane: ["Theo làn và khoảng thời gian", "Per lane and interval"],
  speed_median: ["Tốc độ trung vị (km/h)", "Median speed (km/h)"],
  speed_p85: ["Tốc độ phân vị 85 (km/h)", "85th percentile speed (km/h)"],
  occupancy: ["Độ chiếm dụng", "Occupancy"],
  queue_m: ["Hàng chờ dài nhất (m)", "Longest queue (m)"],
  congestion: ["Mức ùn tắc", "Congestion"],
  off_lane: ["Ngoài làn", "Off lane"],
  cg_free: ["Thông thoáng", "Free flow"],
  cg_moderate: ["Đông", "Moderate"],
  cg_heavy: ["Ùn ứ", "Heavy"],
  cg_jammed: ["Ùn tắc", "Jammed"],
  showing_newest: ["Hiện các dòng mới nhất", "Showing the newest rows"],
  no_stats_day: ["Không có số liệu trong ngày này.", "No statistics on this day."],
  no_stats: ["Chưa có số liệu lưu lượng. Tính bằng lệnh “detector stats compute” trên bản ghi quỹ đạo của camera.", "No traffic statistics yet. Compute them with “detector stats compute” on a camera's track records."],
  alerts_title: ["Cảnh báo xe bị truy tìm", "Hotlist alerts"],
  alerts_help: ["Camera đọc biển số của mọi xe đi qua; cảnh báo hiện ngay khi gặp biển số trong danh sách truy tìm.", "Cameras read the plate of every passing vehicle; an alert shows here as soon as a wanted plate is seen."],
  no_alerts: ["Chưa có cảnh báo nào.", "No alerts yet."],
  wanted_vehicle: ["Xe bị truy tìm", "Wanted vehicle"],
  plate_read: ["Biển số đọc được", "Plate read"],
  wanted_plate: ["Biển số bị truy tìm", "Wanted plate"],
  match_exact: ["Khớp chính xác", "Exact match"],
  match_tolerant: ["Khớp gần đúng", "Tolerant match"],
  match_how: ["Cách khớp", "How it matched"],
  track: ["Lượt xe (track)", "Passage (track)"],
  reason_stolen: ["xe bị trộm cắp", "stolen"],
  reason_hit_and_run: ["gây tai nạn rồi bỏ chạy", "hit and run"],
  reason_wanted: ["đang bị truy nã", "wanted"],
  no_picture: ["Không có ảnh", "No picture"],
  picture_elsewhere: ["Ảnh nằm trên thiết bị camera", "The picture is on the camera's edge box"],
};
const LABELS = Object.fromEntries(
  LANGUAGES.map((l, i) => [l, Object.fromEntries(Object.entries(TEXTS).map(([k, texts]) => [k, texts[i]]))]),
);

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
