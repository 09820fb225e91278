#include "actors/logic/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

namespace orchd {

std::string hmac_sha256_hex(std::string_view secret, std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  auto ok = HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                 reinterpret_cast<const unsigned char*>(body.data()),
                 body.size(), digest, &len);
  if (ok == nullptr)
    return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0x0f];
  }
  return out;
}

namespace {

bool equal_in_constant_time(const std::string& expected,
                            std::string_view given) {
  // The length of a SHA-256 hex digest is public; only the bytes are secret.
  return !expected.empty() && expected.size() == given.size() &&
         CRYPTO_memcmp(expected.data(), given.data(), given.size()) == 0;
}

} // namespace

bool secret_matches(std::string_view secret, std::string_view given) {
  // Digests of both, compared whole: neither the secret's length nor how
  // much of it a guess got right shows in the time taken.
  if (secret.empty())
    return false;
  unsigned char want[SHA256_DIGEST_LENGTH];
  unsigned char got[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
         want);
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(),
         got);
  return CRYPTO_memcmp(want, got, sizeof want) == 0;
}

bool plane_signature_valid(std::string_view secret, std::string_view body,
                           std::string_view header) {
  if (secret.empty() || header.empty())
    return false;
  return equal_in_constant_time(hmac_sha256_hex(secret, body), header);
}

bool github_signature_valid(std::string_view secret, std::string_view body,
                            std::string_view header) {
  constexpr std::string_view scheme = "sha256=";
  if (secret.empty() || header.substr(0, scheme.size()) != scheme)
    return false;
  return equal_in_constant_time(hmac_sha256_hex(secret, body),
                                header.substr(scheme.size()));
}

} // namespace orchd
