#include "fake_server.hpp"

#include <cstring>

namespace remit::client_test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

std::vector<u128> received::ids() const {
  const std::uint32_t stride = codec::shape_of(header.opcode).event_size;
  std::vector<u128> out;
  if (stride < sizeof(u128)) return out;
  for (std::size_t at = 0; at + stride <= body.size(); at += stride)
    out.push_back(load_event<u128>(body.data() + at));
  return out;
}

namespace {

// Reads one frame (header then body) into `frame`; false at the end of the connection.
bool read_frame(tcp::socket& s, std::vector<std::byte>& frame, codec::frame_header& h,
                std::uint32_t body_size_max, bool pre_auth, std::string& error) {
  frame.resize(codec::header_size);
  error_code ec;
  asio::read(s, asio::buffer(frame), ec);
  if (ec) return false;
  h = codec::read_header(frame.data());
  if (const auto st = codec::check_header(h, body_size_max, pre_auth); st != codec::status::ok) {
    error = "header: " + std::string(codec::name(st));
    return false;
  }
  frame.resize(codec::header_size + h.body_size);
  if (h.body_size != 0) {
    asio::read(s, asio::buffer(frame.data() + codec::header_size, h.body_size), ec);
    if (ec) return false;
  }
  return true;
}

void reseal_header(std::byte* frame, const std::function<void(codec::frame_header&)>& change) {
  codec::frame_header h = codec::read_header(frame);
  change(h);
  h.header_crc32c = codec::header_crc(h);
  std::memcpy(frame, &h, sizeof h);
}

std::vector<std::byte> make_frame(codec::opcode op, std::uint64_t request_id,
                                  std::uint64_t sequence, codec::status st,
                                  std::span<const std::byte> body, std::uint32_t event_count,
                                  const codec::mac_key* key, const tamper& t) {
  std::vector<std::byte> frame(codec::header_size + body.size());
  if (!body.empty()) std::memcpy(frame.data() + codec::header_size, body.data(), body.size());
  codec::frame_fields f;
  f.opcode = static_cast<std::uint16_t>(op);
  f.event_count = event_count;
  f.request_id = request_id;
  f.sequence = static_cast<std::uint64_t>(static_cast<std::int64_t>(sequence) + t.sequence_offset);
  f.status = static_cast<std::uint16_t>(st);
  f.flags = t.no_response_flag ? 0 : codec::flag_response;
  codec::seal_frame(frame, f, key);
  if (t.bad_mac) reseal_header(frame.data(), [](codec::frame_header& h) { h.mac[0] ^= 0x5a; });
  if (t.bad_body_crc) {
    if (body.empty())
      reseal_header(frame.data(), [](codec::frame_header& h) { h.body_crc32c ^= 1; });
    else
      frame[codec::header_size] ^= std::byte{1};
  }
  return frame;
}

template <class T>
std::span<const std::byte> bytes(const T& t) {
  return std::as_bytes(std::span(&t, 1));
}

}  // namespace

// ---- fake_session -------------------------------------------------------------------------

void fake_session::respond(const received& req, codec::status st, std::span<const std::byte> body,
                           std::uint32_t event_count, const tamper& t) {
  std::lock_guard lk(write_mu_);
  const auto frame = make_frame(req.op(), req.header.request_id, seq_out_++, st, body, event_count,
                                mac_ ? &keys_.s2c : nullptr, t);
  error_code ec;
  asio::write(socket_, asio::buffer(frame), ec);
}

void fake_session::answer(const received& req, const tamper& t) {
  std::vector<std::byte> body;
  std::uint32_t n = 0;
  auto put = [&](const auto& event) {
    const auto b = bytes(event);
    body.insert(body.end(), b.begin(), b.end());
    ++n;
  };
  switch (req.op()) {
    case codec::opcode::create_accounts:
    case codec::opcode::create_transfers:
      for (const u128 id : req.ids()) put(result{0, 0, u128_lo(id)});
      break;
    case codec::opcode::set_account_controls:
      for (std::size_t i = 0; i < req.body.size() / sizeof(account_controls); ++i)
        put(result{0, 0, 0});
      break;
    case codec::opcode::lookup_accounts:
      for (const u128 id : req.ids()) {
        account a{};
        a.id = id;
        a.ledger = 1;
        a.code = 1;
        a.credits_posted = id * 10;
        put(a);
      }
      break;
    case codec::opcode::lookup_transfers:
      for (const u128 id : req.ids()) {
        transfer x{};
        x.id = id;
        x.amount = id;
        x.ledger = 1;
        x.code = 1;
        put(x);
      }
      break;
    case codec::opcode::get_account_transfers: {
      const auto f = load_event<account_filter>(req.body.data());
      for (u128 id = 1; id <= 2; ++id) {
        transfer x{};
        x.id = 100 + id;
        x.debit_account_id = f.account_id;
        x.credit_account_id = f.account_id + 1;
        x.amount = id;
        put(x);
      }
      break;
    }
    case codec::opcode::get_ledger_stats: {
      const auto r = load_event<ledger_stats_request>(req.body.data());
      ledger_stats s{};
      s.ledger = r.ledger;
      s.accounts = 42;
      s.transfers_posted = 7;
      s.volume_posted = make_u128(1, 2);
      put(s);
      break;
    }
    case codec::opcode::ping:
      body = req.body;
      break;
    case codec::opcode::hello:
    case codec::opcode::auth:
      break;
  }
  respond(req, codec::status::ok, body, n, t);
}

void fake_session::error(const received& req, codec::status st, std::string_view reason) {
  respond(req, st, std::as_bytes(std::span(reason)), 0);
}

void fake_session::close() {
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
}

// ---- fake_server --------------------------------------------------------------------------

fake_server::fake_server(std::vector<std::uint8_t> secret, fake_options opt, std::string key_id)
    : secret_(std::move(secret)),
      opt_(std::move(opt)),
      key_id_(std::move(key_id)),
      acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
  port_ = acceptor_.local_endpoint().port();
  hook_ = [](fake_session& s, const received& r) { s.answer(r); };
  accept_thread_ = std::thread([this] { accept_loop(); });
}

fake_server::~fake_server() {
  stop();
}

void fake_server::set_hook(hook h) {
  std::lock_guard lk(mu_);
  hook_ = std::move(h);
}

void fake_server::stop() {
  if (stopping_.exchange(true)) return;
  {
    // Wakes the blocking accept.
    tcp::socket wake(io_);
    error_code ec;
    wake.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port_), ec);
    accept_thread_.join();
  }
  error_code ec;
  acceptor_.close(ec);
  std::vector<fake_session*> all;
  {
    std::lock_guard lk(mu_);
    for (auto& s : sessions_) all.push_back(s.get());
  }
  for (auto* s : all) {
    s->close();
    if (s->thread_.joinable()) s->thread_.join();
    s->socket_.close(ec);
  }
}

void fake_server::accept_loop() {
  while (!stopping_) {
    tcp::socket sock(io_);
    error_code ec;
    acceptor_.accept(sock, ec);
    if (ec || stopping_) break;
    auto s = std::make_unique<fake_session>(std::move(sock));
    fake_session& ref = *s;
    // Counted before its thread starts: the session may have answered (and the client
    // returned) before this thread runs again.
    ref.index_ = connections_.fetch_add(1);
    {
      std::lock_guard lk(mu_);
      sessions_.push_back(std::move(s));
    }
    cv_.notify_all();
    ref.thread_ = std::thread([this, &ref] { run_session(ref); });
  }
}

void fake_server::violation(std::string what) {
  std::lock_guard lk(mu_);
  last_violation_ = std::move(what);
  ++violations_;
  cv_.notify_all();
}

std::string fake_server::last_violation() const {
  std::lock_guard lk(mu_);
  return last_violation_;
}

std::vector<received> fake_server::requests() const {
  std::lock_guard lk(mu_);
  return requests_;
}

std::size_t fake_server::request_count() const {
  std::lock_guard lk(mu_);
  return requests_.size();
}

bool fake_server::wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, pred);
}

bool fake_server::handshake(fake_session& s) {
  std::vector<std::byte> frame;
  codec::frame_header h{};
  std::string error;
  if (!read_frame(s.socket_, frame, h, opt_.body_size_max, true, error)) {
    if (!error.empty()) violation("HELLO " + error);
    return false;
  }
  const auto hello_body = std::span<const std::byte>(frame).subspan(codec::header_size);
  if (const auto st = codec::check_hello(h, hello_body); st != codec::status::ok) {
    violation("HELLO: " + std::string(codec::name(st)));
    return false;
  }
  const auto hello = load_event<codec::hello>(hello_body.data());
  const std::vector<std::byte> hello_bytes(hello_body.begin(), hello_body.end());
  last_mac_mode_ = hello.mac_mode;

  codec::hello_reply r{};
  codec::random_bytes(r.server_nonce);
  r.body_size_max = opt_.body_size_max;
  r.event_count_max = opt_.event_count_max;
  r.inflight_max = opt_.inflight_max;
  r.mac_required = opt_.mac_required ? 1 : 0;
  r.role = opt_.role;
  std::memcpy(r.server_version.data(), opt_.server_version.data(),
              std::min(opt_.server_version.size(), r.server_version.size()));
  {
    const auto f = make_frame(codec::opcode::hello, h.request_id, 0, codec::status::ok, bytes(r), 1,
                              nullptr, {});
    error_code ec;
    asio::write(s.socket_, asio::buffer(f), ec);
    if (ec) return false;
  }

  if (!read_frame(s.socket_, frame, h, opt_.body_size_max, true, error)) {
    if (!error.empty()) violation("AUTH " + error);
    return false;
  }
  const auto auth_body = std::span<const std::byte>(frame).subspan(codec::header_size);
  if (const auto st = codec::check_auth(h, auth_body); st != codec::status::ok) {
    violation("AUTH: " + std::string(codec::name(st)));
    return false;
  }
  const auto proof = codec::auth_proof(secret_, hello_bytes, bytes(r));
  const bool mac_refused = opt_.mac_required && hello.mac_mode == 0;
  if (codec::key_id_of(hello) != key_id_ ||
      !codec::equal_ct(proof, std::span(reinterpret_cast<const std::uint8_t*>(auth_body.data()),
                                        auth_body.size())) ||
      mac_refused) {
    const std::string_view reason = "the proof does not verify";
    const auto f = make_frame(codec::opcode::auth, h.request_id, 0, codec::status::auth_failed,
                              std::as_bytes(std::span(reason)), 0, nullptr, {});
    error_code ec;
    asio::write(s.socket_, asio::buffer(f), ec);
    return false;
  }
  codec::auth_reply a{};
  a.session_id = static_cast<std::uint64_t>(s.index_) + 1;
  a.permissions = codec::permission::all;
  a.server_proof = codec::server_proof(secret_, hello_bytes, bytes(r), proof);
  if (opt_.bad_server_proof) a.server_proof[5] ^= 0x01;
  s.keys_ = codec::derive_session_keys(secret_, hello.client_nonce, r.server_nonce);
  s.mac_ = hello.mac_mode == static_cast<std::uint32_t>(codec::mac_mode::hmac_sha256);
  const auto f =
      make_frame(codec::opcode::auth, h.request_id, 0, codec::status::ok, bytes(a), 1, nullptr, {});
  error_code ec;
  asio::write(s.socket_, asio::buffer(f), ec);
  return !ec;
}

void fake_server::run_session(fake_session& s) {
  if (!handshake(s)) return;
  std::uint64_t seq_in = 1;
  std::vector<std::byte> frame;
  for (;;) {
    codec::frame_header h{};
    std::string error;
    if (!read_frame(s.socket_, frame, h, opt_.body_size_max, false, error)) {
      if (!error.empty() && !stopping_) violation(error);
      return;
    }
    const auto body = std::span<const std::byte>(frame).subspan(codec::header_size);
    if (h.sequence != seq_in)
      violation("sequence " + std::to_string(h.sequence) + ", expected " + std::to_string(seq_in));
    ++seq_in;
    if (s.mac_ ? !s.keys_.c2s.verify(frame) : !bytes_zero(h.mac.data(), h.mac.size()))
      violation("bad MAC");
    if (const auto st = codec::check_request(h, body, codec::permission::all, opt_.event_count_max);
        st != codec::status::ok)
      violation("request refused: " + std::string(codec::name(st)));
    received r;
    r.connection = s.index_;
    r.header = h;
    r.body.assign(body.begin(), body.end());
    hook hk;
    {
      std::lock_guard lk(mu_);
      requests_.push_back(r);
      hk = hook_;
    }
    cv_.notify_all();
    hk(s, r);
  }
}

}  // namespace remit::client_test
