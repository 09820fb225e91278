#include "actors/daemon/daemon.hpp"

int main(int argc, char** argv) {
  return orchd::run_command_line(argc, argv);
}
