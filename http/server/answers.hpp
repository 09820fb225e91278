// What the HTTP surface shows: status codes for orchd's errors, and the JSON
// of every row and result an actor answers. Actors never pick a status or
// build a body; they answer typed results and this file turns them into
// answers.
#pragma once

#include "actors/core/replies.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <string>
#include <vector>

namespace orchd::http {

/// An HTTP answer: status code and body (JSON unless said otherwise).
struct http_answer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  /// Extra headers (name, value).
  std::vector<std::pair<std::string, std::string>> headers = {};
};

/// A JSON body `{"error": text}` (invalid UTF-8 in `text` is replaced).
http_answer error_answer(int status, const std::string& text);

/// The status of an error an actor answered: 401 bad signature; 400
/// malformed or refused argument; 404 missing row or freeze; 409 conflict
/// or cycle; else 503 (storage failed or timed out: retry).
int status_of(const caf::error& err);

/// The answer of an actor's error, with its status.
http_answer answer_error(const caf::error& err);

// -- the answers of each route, by the type the actor answered --

http_answer answer(const webhook_receipt& x);
http_answer answer(const health_report& x);
http_answer answer(const task_row& x);
http_answer answer(const task_detail& x);
http_answer answer(const job_row& x);
http_answer answer(const std::vector<active_task>& x);
http_answer answer(const queue_summary& x);
/// GET /costs: each group most expensive first, and the total.
http_answer answer(const cost_report& x);
http_answer answer(const std::vector<freeze_row>& x);
http_answer answer(const actor_status& x);
http_answer answer(const std::vector<actor_status>& x);
/// The agent's output bytes as text/plain, with X-Orchd-Next-Offset and
/// X-Orchd-Finished.
http_answer answer(const job_output& x);
http_answer answer(const std::vector<job_row>& x);
/// GET /metrics: the exposition text.
http_answer metrics_answer(std::string text);

/// The health route's error: 503 "degraded", naming storage's error.
http_answer answer_health_error(const caf::error& err);

} // namespace orchd::http
