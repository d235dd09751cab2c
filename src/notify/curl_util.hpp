// RAII for libcurl handles used by the SMTP and webhook channels.
#pragma once

#include <curl/curl.h>

#include <string>

namespace omamori::notify {

// curl_global_init once per process (thread-safe).
void curl_global_once();

class CurlEasy {
 public:
  CurlEasy() : h_(curl_easy_init()) {}
  ~CurlEasy() {
    if (h_) curl_easy_cleanup(h_);
  }
  CurlEasy(const CurlEasy&) = delete;
  CurlEasy& operator=(const CurlEasy&) = delete;
  explicit operator bool() const { return h_ != nullptr; }
  CURL* get() const { return h_; }

 private:
  CURL* h_;
};

class CurlList {
 public:
  CurlList() = default;
  ~CurlList() { curl_slist_free_all(l_); }
  CurlList(const CurlList&) = delete;
  CurlList& operator=(const CurlList&) = delete;
  void append(const std::string& s) { l_ = curl_slist_append(l_, s.c_str()); }
  curl_slist* get() const { return l_; }

 private:
  curl_slist* l_ = nullptr;
};

}  // namespace omamori::notify
