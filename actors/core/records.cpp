#include "actors/core/records.hpp"

namespace orchd {

bool is_job_status(std::string_view status) {
  for (auto s : job_statuses)
    if (s == status)
      return true;
  return false;
}

} // namespace orchd
