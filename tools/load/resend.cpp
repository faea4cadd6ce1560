#include "tools/load/resend.hpp"

namespace remit::load {

std::uint64_t count_resent_as_done(std::span<const transfer> events, std::span<result> results) {
  const auto code = [](create_transfer_result c) { return static_cast<std::uint32_t>(c); };
  const auto linked = [&](std::size_t i) {
    return i < events.size() && (events[i].flags & transfer_flags::linked) != 0;
  };
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < results.size();) {
    std::size_t end = i;  // the chain is [i, end]
    while (end + 1 < results.size() && linked(end)) ++end;
    bool earlier = results[i].status == code(create_transfer_result::exists);
    for (std::size_t k = i + 1; k <= end && earlier; ++k)
      earlier = results[k].status == code(create_transfer_result::linked_event_failed);
    if (earlier) {
      for (std::size_t k = i; k <= end; ++k) results[k].status = code(create_transfer_result::ok);
      n += end - i + 1;
    }
    i = end + 1;
  }
  return n;
}

}  // namespace remit::load
