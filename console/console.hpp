// `orchd console`: the operator's view of a running daemon and its safe
// actions, over the admin HTTP API only (one-shot commands, or an
// interactive prompt with line editing, history and completion).
#pragma once

namespace orchd::console {

/// Exit codes: 0 ok, 1 the daemon refused (its message shown), 2 usage,
/// 3 the daemon could not be reached (the address tried is named).
enum exit_code { ok = 0, refused = 1, usage = 2, unreachable = 3 };

/// Runs `orchd console [options] [command args...]`; argv[0] is "console".
int main(int argc, char** argv);

} // namespace orchd::console
