#include "actors/os/instance_lock.hpp"

#include "actors/core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/file.h>
#include <unistd.h>

namespace orchd {

namespace {

// The pid the holder wrote, or "" when it wrote none (yet).
std::string holder_pid(int fd) {
  char buf[32] = {};
  auto n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string text = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text.find_first_not_of("0123456789") == std::string::npos ? text : "";
}

} // namespace

caf::expected<std::unique_ptr<instance_lock>>
instance_lock::acquire(const std::string& database) {
  auto path = database + ".lock";
  std::error_code ignored; // a folder that cannot be made fails the open
  std::filesystem::create_directories(
      std::filesystem::path{database}.parent_path(), ignored);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return caf::make_error(ec::io_failed,
                           "cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    auto err = errno;
    auto pid = holder_pid(fd);
    ::close(fd);
    if (err == EWOULDBLOCK)
      return caf::make_error(
          ec::storage_unusable,
          database + " is in use by another orchd" +
              (pid.empty() ? std::string{} : " (pid " + pid + ")") +
              "; its lock is " + path);
    return caf::make_error(ec::io_failed,
                           "cannot lock " + path + ": " + std::strerror(err));
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) !=
                                     static_cast<ssize_t>(pid.size())) {
    // The lock holds without the pid: a second daemon just cannot name us.
  }
  return std::unique_ptr<instance_lock>{new instance_lock{path, fd}};
}

instance_lock::~instance_lock() {
  if (fd_ >= 0)
    ::close(fd_); // releases the lock; the file stays for the next daemon
}

} // namespace orchd
