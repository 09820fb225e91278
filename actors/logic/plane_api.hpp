// Plane's REST API (v1) as orchd calls it: the requests it builds and how
// it reads the answers. Pure: the Plane outbox actor sends them.
#pragma once

#include "actors/core/outbound.hpp"
#include "actors/logic/config.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace orchd::plane {

struct endpoint {
  std::string base_url;
  std::string workspace_slug;
  std::string api_key;
};

/// The configuration's Plane endpoint (base URL, slug, the key read from
/// its secret).
endpoint endpoint_of(const config& cfg);

/// GET .../projects/{project}/states/
outbound_request list_states(const endpoint& e, const std::string& project);

/// PATCH .../projects/{project}/work-items/{item}/ {"state": id}
outbound_request set_state(const endpoint& e, const std::string& project,
                           const std::string& item,
                           const std::string& state_id);

/// POST .../projects/{project}/work-items/{item}/comments/ with the text
/// as HTML, external_source "orchd" and the call's external id.
outbound_request add_comment(const endpoint& e, const std::string& project,
                             const std::string& item, std::string_view text,
                             const std::string& external_id);

/// GET .../projects/{project}/work-items/ (states and labels expanded), a
/// page of `per_page` from `cursor` ("" for the first).
outbound_request list_work_items(const endpoint& e, const std::string& project,
                                 const std::string& cursor, int64_t per_page);

/// A page of work items, each as the body of a Plane `issue` webhook
/// (event, action "updated", data: the item), so it takes the webhook's
/// path; and where the next page starts.
struct work_item_page {
  std::vector<std::string> items;
  std::string next_cursor;
  bool more = false;
};

caf::expected<work_item_page> parse_work_items(std::string_view body);

/// GET .../projects/{project}/work-items/{item}/comments/
outbound_request list_comments(const endpoint& e, const std::string& project,
                               const std::string& item);

/// The text of the newest comment not written by orchd (external_source
/// "orchd"): `comment_stripped`, else `comment_html` without its tags; ""
/// when there is none or the body is not a comment list.
std::string latest_human_comment(std::string_view body);

/// A plain text as one HTML paragraph, escaped, line breaks kept.
std::string comment_html(std::string_view text);

/// A state list's names (lower-cased) to ids; accepts Plane's paginated
/// form ({"results": [...]}) and a plain array.
caf::expected<std::map<std::string, std::string>>
parse_states(std::string_view body);

/// The wait before retry n+1 of a call tried `attempts` times:
/// min(2^(attempts+1) × base, cap) seconds.
int64_t backoff_s(int64_t attempts, int64_t base_s, int64_t cap_s);

/// How an answer is taken.
struct verdict {
  enum kind_t : uint8_t { ok, retry, refused } kind = ok;
  /// retry: seconds to wait.
  int64_t retry_in_s = 0;
  std::string error;
};

/// 2xx ok; 429 (Retry-After, else X-RateLimit-Reset), 408, 5xx and no
/// answer retry (429's hint, else min(2^attempts × base, cap)); other 4xx
/// are refused for good. `now_s` turns a reset time into a delay.
verdict classify(const outbound_response& r, int64_t attempts, int64_t base_s,
                 int64_t cap_s, int64_t now_s);

} // namespace orchd::plane
