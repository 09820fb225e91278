// Webhook signature checks: HMAC-SHA256 of the raw body, compared in
// constant time. Run before the body is parsed and before any write.
#pragma once

#include <string>
#include <string_view>

namespace orchd {

/// Lowercase hex HMAC-SHA256 of `body` under `secret`.
std::string hmac_sha256_hex(std::string_view secret, std::string_view body);

/// Plane: `X-Plane-Signature` is the lowercase hex HMAC of the body. An
/// empty secret or header never verifies.
bool plane_signature_valid(std::string_view secret, std::string_view body,
                           std::string_view header);

/// GitHub: `X-Hub-Signature-256` is `sha256=` and the hex HMAC of the body.
bool github_signature_valid(std::string_view secret, std::string_view body,
                            std::string_view header);

/// Compares a secret with what a client sent by their SHA-256 digests, in
/// time that tells neither the secret's length nor its bytes; an empty
/// secret never matches.
bool secret_matches(std::string_view secret, std::string_view given);

} // namespace orchd
