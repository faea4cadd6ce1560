#include "engine/types.hpp"

namespace remit {

filter_check validate_filter(const account_filter& f) {
  if (f.limit == 0 || f.limit > batch_events_max) return filter_check::bad_event_count;
  if (!(f.flags & (account_filter_flags::debits | account_filter_flags::credits)))
    return filter_check::bad_event_count;
  if (f.flags & ~account_filter_flags::known) return filter_check::reserved_field;
  if (!bytes_zero(f.reserved, sizeof f.reserved)) return filter_check::reserved_field;
  return filter_check::ok;
}

}  // namespace remit
