// The orchd command line: serve, check-config, --version.
#include "actors/daemon/daemon.hpp"

#include "actors/core/error.hpp"
#include "actors/os/environment.hpp"
#include "console/console.hpp"

#include <iostream>
#include <string>
#include <utility>

namespace orchd {

namespace {

const char* usage_text =
    "usage: orchd serve [--config FILE] [--port N] [--db PATH] "
    "[--log-level LEVEL]\n"
    "       orchd check-config FILE\n"
    "       orchd console [--url URL] [--json] [COMMAND ARGS...] "
    "(orchd console --help)\n"
    "       orchd --version\n";

int usage_error(const std::string& what) {
  std::cerr << "orchd: " << what << "\n" << usage_text;
  return exit_usage;
}

int config_failure(const caf::error& err) {
  std::cerr << "orchd: invalid configuration: " << describe(err) << "\n";
  return exit_usage;
}

bool parse_port(const std::string& text, int64_t& out) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::stoll(text);
  return out <= 65535;
}

// Reads every secret (variable, NAME_FILE or systemd credential) and wipes
// it from the environment.
caf::error load_secrets(secrets_config& s) {
  for (auto [name, value] :
       {std::pair{&s.plane_webhook_secret_env, &s.plane_webhook_secret},
        std::pair{&s.github_webhook_secret_env, &s.github_webhook_secret},
        std::pair{&s.admin_token_env, &s.admin_token},
        std::pair{&s.telegram_token_env, &s.telegram_token},
        std::pair{&s.plane_api_key_env, &s.plane_api_key}}) {
    auto secret = take_secret(*name);
    if (!secret)
      return secret.error();
    *value = std::move(*secret);
  }
  // A short token is guessed: refuse to start rather than serve with it.
  if (!s.admin_token.empty() && s.admin_token.size() < min_admin_token_bytes)
    return caf::make_error(ec::invalid_config,
                           "secrets.admin_token (" + s.admin_token_env +
                               "): " + std::to_string(s.admin_token.size()) +
                               " bytes; an admin token must be at least " +
                               std::to_string(min_admin_token_bytes) +
                               " bytes (e.g. `openssl rand -hex 32`)");
  return caf::none;
}

int check_config(const std::string& file) {
  auto cfg = load_config(file);
  if (!cfg)
    return config_failure(cfg.error());
  if (auto err = load_secrets(cfg->secrets))
    return config_failure(err);
  std::cout << to_json(*cfg).dump(2) << "\n";
  return exit_ok;
}

int serve_command(int argc, char** argv) {
  std::string file;
  std::string port;
  std::string db;
  std::string level;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--config")
      ok = value(file);
    else if (arg == "--port")
      ok = value(port);
    else if (arg == "--db")
      ok = value(db);
    else if (arg == "--log-level")
      ok = value(level);
    else
      return usage_error("unknown option " + arg);
    if (!ok)
      return usage_error(arg + " needs a value");
  }
  auto cfg = file.empty() ? caf::expected<config>{default_config()}
                          : load_config(file);
  if (!cfg)
    return config_failure(cfg.error());
  if (!port.empty() && !parse_port(port, cfg->listen.port))
    return config_failure(
        caf::make_error(ec::invalid_config, "--port: expected 0 to 65535"));
  if (!db.empty())
    cfg->database.path = db;
  if (!level.empty())
    cfg->log_level = level;
  if (auto err = validate_config(*cfg))
    return config_failure(err);
  if (auto err = load_secrets(cfg->secrets))
    return config_failure(err);
  return serve(*cfg);
}

} // namespace

int run_command_line(int argc, char** argv) {
  if (argc < 2)
    return usage_error("no command");
  std::string cmd = argv[1];
  if (cmd == "--version" || cmd == "version") {
    std::cout << "orchd " << ORCHD_VERSION << "\n";
    return exit_ok;
  }
  if (cmd == "--help" || cmd == "help") {
    std::cout << usage_text;
    return exit_ok;
  }
  if (cmd == "check-config") {
    if (argc != 3)
      return usage_error("check-config takes one file");
    return check_config(argv[2]);
  }
  if (cmd == "serve")
    return serve_command(argc, argv);
  if (cmd == "console")
    return console::main(argc - 1, argv + 1);
  return usage_error("unknown command " + cmd);
}

} // namespace orchd
