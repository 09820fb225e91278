// The outbound client's TLS verification against a real TLS server on
// loopback whose certificate no CA signed: the handshake is refused, no
// request is sent, and the failure says why (status 0). Telegram's and
// Plane's calls go through this client.
#include "http/client/https_client.hpp"

#include "tests/support/test.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

using namespace orchd;

namespace {

// A TLS server with a fresh self-signed certificate for 127.0.0.1; it
// counts the request bytes it read after a handshake.
class self_signed_server {
public:
  self_signed_server() {
    key_ = EVP_EC_gen("P-256");
    cert_ = X509_new();
    X509_set_version(cert_, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert_), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert_), 3600);
    X509_set_pubkey(cert_, key_);
    auto* name = X509_get_subject_name(cert_);
    X509_NAME_add_entry_by_txt(
        name, "CN", MBSTRING_ASC,
        reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert_, name);
    X509_sign(cert_, key_, EVP_sha256());
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, cert_);
    SSL_CTX_use_PrivateKey(ctx_, key_);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread{[this] {
      serve();
    }};
  }

  ~self_signed_server() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    SSL_CTX_free(ctx_);
    X509_free(cert_);
    EVP_PKEY_free(key_);
  }

  uint16_t port() const { return port_; }
  int request_bytes() const { return request_bytes_; }

private:
  void serve() {
    for (;;) {
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0)
        return;
      auto* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, conn);
      if (SSL_accept(ssl) == 1) {
        char buf[512];
        auto n = SSL_read(ssl, buf, sizeof buf);
        if (n > 0)
          request_bytes_ += n;
      }
      ERR_clear_error();
      SSL_free(ssl);
      ::close(conn);
    }
  }

  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> request_bytes_{0};
  std::thread thread_;
};

} // namespace

TEST_CASE("TLS: a certificate no CA signed is refused before any request") {
  self_signed_server server;
  auto send = http_client::make_sender(std::chrono::seconds(5));
  outbound_request req;
  req.method = "POST";
  req.url = "https://127.0.0.1:" + std::to_string(server.port()) +
            "/botSECRET/sendMessage";
  req.body = R"({"chat_id":1,"text":"never sent"})";
  auto res = send(req);
  CHECK(res.status == 0);
  CHECK_MESSAGE(res.error.find("certificate verify failed") !=
                    std::string::npos,
                res.error);
  // The error names the failure, never the URL (its path holds a token).
  CHECK(res.error.find("SECRET") == std::string::npos);
  CHECK(server.request_bytes() == 0);
}
