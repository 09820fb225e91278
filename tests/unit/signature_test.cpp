// Webhook signatures against GitHub's published vector and the recorded
// Plane and GitHub deliveries in shared/fixtures.
#include "actors/logic/signature.hpp"

#include "tests/support/test.hpp"

#include <fstream>
#include <sstream>

using namespace orchd;

namespace {

// The value of `name:` in a recorded header file.
std::string header(const std::string& headers, const std::string& name) {
  std::istringstream in{headers};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ": ", 0) == 0)
      return line.substr(name.size() + 2);
  FAIL("no header " << name);
  return {};
}

// The secret noted in a recorded header file ("# secret used: ...").
std::string secret(const std::string& headers) {
  return header(headers, "# secret used");
}

} // namespace

TEST_CASE("GitHub's published HMAC-SHA256 test vector") {
  // docs.github.com, "Validating webhook deliveries".
  CHECK(hmac_sha256_hex("It's a Secret to Everybody", "Hello, World!") ==
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  CHECK(github_signature_valid(
      "It's a Secret to Everybody", "Hello, World!",
      "sha256="
      "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
}

TEST_CASE("a recorded GitHub delivery verifies, a changed one does not") {
  auto headers =
      orchd::test::read_fixture("github_check_run_completed.headers.txt");
  auto body = orchd::test::read_fixture("github_check_run_completed.body.json");
  auto sig = header(headers, "X-Hub-Signature-256");
  auto key = secret(headers);
  CHECK(github_signature_valid(key, body, sig));
  auto tampered = body;
  tampered[tampered.size() / 2] ^= 1;
  CHECK_FALSE(github_signature_valid(key, tampered, sig));
  CHECK_FALSE(github_signature_valid("another secret", body, sig));
  CHECK_FALSE(github_signature_valid(key, body, sig.substr(7)));
  CHECK_FALSE(github_signature_valid(key, body, "sha1=" + sig.substr(7)));
  CHECK_FALSE(github_signature_valid("", body, sig));
}

TEST_CASE("a recorded Plane delivery verifies, a changed one does not") {
  auto headers = orchd::test::read_fixture("plane_issue_updated.headers.txt");
  auto body = orchd::test::read_fixture("plane_issue_updated.body.json");
  auto sig = header(headers, "X-Plane-Signature");
  auto key = secret(headers);
  CHECK(plane_signature_valid(key, body, sig));
  CHECK_FALSE(plane_signature_valid(key, body + " ", sig));
  CHECK_FALSE(plane_signature_valid(key, body, sig.substr(1)));
  CHECK_FALSE(plane_signature_valid(key, body, ""));
  CHECK_FALSE(plane_signature_valid("", body, sig));
}

TEST_CASE("the admin token matches only itself, whatever the length given") {
  std::string token(40, 'k');
  CHECK(secret_matches(token, token));
  // A prefix, the token with more after it, one byte changed, nothing.
  CHECK_FALSE(secret_matches(token, token.substr(0, 39)));
  CHECK_FALSE(secret_matches(token, token + "k"));
  auto changed = token;
  changed[20] = 'j';
  CHECK_FALSE(secret_matches(token, changed));
  CHECK_FALSE(secret_matches(token, ""));
  // No token configured: nothing matches, not even an empty guess.
  CHECK_FALSE(secret_matches("", ""));
  CHECK_FALSE(secret_matches("", "x"));
}
