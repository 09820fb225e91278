// Telegram's Bot API as the tracker calls it: the requests it builds and
// how it reads the answers. Pure: the tracker actor sends them through the
// one outbound HTTP layer (http/client), as the Plane outbox does.
#pragma once

#include "actors/core/outbound.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace orchd::telegram {

struct endpoint {
  /// https://api.telegram.org (plain http only to a loopback host).
  std::string base_url;
  /// The bot's token: part of every URL, so never logged (see redact).
  std::string token;
};

/// POST /bot<token>/sendMessage: `html` in parse mode HTML, no preview.
outbound_request send_message(const endpoint& e, const std::string& chat_id,
                              const std::string& html);

/// POST /bot<token>/editMessageText of message `message_id`.
outbound_request edit_message(const endpoint& e, const std::string& chat_id,
                              int64_t message_id, const std::string& html);

/// POST /bot<token>/deleteMessage of message `message_id`.
outbound_request delete_message(const endpoint& e, const std::string& chat_id,
                                int64_t message_id);

/// An answer of the Bot API, read and classified.
struct answer {
  enum kind_t : uint8_t {
    /// Done; `message_id` is the sent message's (sendMessage).
    ok,
    /// An edit to what the message already says: as good as done.
    not_modified,
    /// The message is gone or cannot be touched any more (to delete / to
    /// edit not found, can't be deleted): the ledger may forget it.
    gone,
    /// Try again later: no answer, 5xx, 429 (`retry_after_s`).
    retry,
    /// Refused for good (bad token, chat not found, bot kicked, bad
    /// request).
    refused,
  } kind = retry;
  int64_t message_id = 0;
  /// The API's error_code (or the HTTP status), 0 for none.
  int64_t error_code = 0;
  std::string description;
  /// 429: the seconds Telegram asks to wait.
  int64_t retry_after_s = 0;
};

/// Reads an answer (ok, error_code, description, parameters.retry_after)
/// and classifies it by status and description.
answer classify(const outbound_response& res);

/// `text` with every occurrence of `token` replaced by "<token>", for
/// anything logged that may quote a URL.
std::string redact(std::string text, const std::string& token);

} // namespace orchd::telegram
