// The process's resources: who may read what it makes (the database and
// its journal, run logs, worktrees: orchd's user alone; new files through
// the umask, what an earlier daemon or the Python orchestrator left wider
// narrowed at start), and how many file descriptors it may open.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace orchd {

/// The mask orchd runs under (and its children inherit): files 0600,
/// folders 0700.
constexpr mode_t private_umask = 077;

/// Clears the permission bits of `path` outside `allowed` (0600 for a
/// file, 0700 for a folder). Answers the mode it had when it was changed;
/// nothing when `path` is missing or was already that narrow.
std::optional<mode_t> narrow_mode(const std::string& path, mode_t allowed);

/// Raises the soft limit on open file descriptors to the hard one (a
/// daemon's connections, SQLite and agents' pipes share it); answers the
/// soft limit in force afterwards.
uint64_t raise_fd_limit();

/// File descriptors orchd needs besides its connections: SQLite's files,
/// the lock, logs, the runtime's own, and per running agent its output
/// file and pipes.
uint64_t fds_besides_connections(uint64_t max_agents);

} // namespace orchd
