// One daemon per database: an exclusive lock on a file beside it, held for
// the daemon's lifetime (flock, released by the kernel when the process
// ends, however it ends).
#pragma once

#include <caf/expected.hpp>

#include <memory>
#include <string>

namespace orchd {

/// The lock of one database, held while this object lives.
class instance_lock {
public:
  /// Takes the lock on `<database>.lock` and writes this process's pid into
  /// it. ec::storage_unusable naming the file (and the holder's pid, when
  /// it wrote one) if another process holds it; ec::io_failed if the lock
  /// file cannot be opened.
  static caf::expected<std::unique_ptr<instance_lock>>
  acquire(const std::string& database);

  ~instance_lock();
  instance_lock(const instance_lock&) = delete;
  instance_lock& operator=(const instance_lock&) = delete;

  const std::string& path() const { return path_; }

private:
  instance_lock(std::string path, int fd)
      : path_(std::move(path))
      , fd_(fd) {}

  std::string path_;
  int fd_ = -1;
};

} // namespace orchd
