// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/net/http_client.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <stdexcept>

#include "levqor/controld/core/text.h"
#include "levqor/controld/version.h"

namespace levqor::controld::net {
namespace {

struct EasyDeleter {
    void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct ListDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// One transfer: the handle and what it writes into.
struct Transfer {
    std::unique_ptr<CURL, EasyDeleter> easy;
    std::unique_ptr<curl_slist, ListDeleter> headers;
    const HttpRequest* request = nullptr;
    HttpResponse response;
    bool too_large = false;
    char error_buffer[CURL_ERROR_SIZE] = {};
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    if (transfer->response.body.size() + n > transfer->request->max_response_bytes) {
        transfer->too_large = true;
        return 0;  // aborts the transfer
    }
    transfer->response.body.append(data, n);
    return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    std::string_view line(data, n);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        transfer->response.headers[to_lower(line.substr(0, colon))] = std::string(trim(line.substr(colon + 1)));
    }
    return n;
}

// Sockets close-on-exec from the start, so no exec'd program (an exec job)
// can inherit a connection of controld's (exec_runner also closes every
// descriptor above 2 in the child; this covers any other exec).
curl_socket_t open_cloexec_socket(void*, curlsocktype, curl_sockaddr* address) {
    return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

void setup(Transfer& t, const HttpRequest& request) {
    t.request = &request;
    t.response.error = "the transfer did not complete";
    t.easy.reset(curl_easy_init());
    if (!t.easy) throw std::runtime_error("curl_easy_init failed");
    CURL* e = t.easy.get();
    curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cloexec_socket);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error_buffer);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    const std::string agent = "levqor-controld/" + std::string(kVersion);
    curl_easy_setopt(e, CURLOPT_USERAGENT, agent.c_str());  // copied by libcurl
    if (request.method == "POST" || request.method == "PUT") {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
    if (request.method != "GET" && request.method != "POST") {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    curl_slist* list = nullptr;
    // libcurl would add "Expect: 100-continue" to larger POSTs; a round trip lost.
    list = curl_slist_append(list, "Expect:");
    for (const auto& [name, value] : request.headers) {
        list = curl_slist_append(list, (name + ": " + value).c_str());
    }
    t.headers.reset(list);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
}

void finish(Transfer& t, CURLcode code) {
    double total = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_TOTAL_TIME, &total);
    t.response.elapsed = std::chrono::duration<double>(total);
    if (code == CURLE_OK) {
        t.response.error.clear();
        curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &t.response.status);
        return;
    }
    if (t.too_large) {
        t.response.error = "response larger than " + std::to_string(t.request->max_response_bytes) + " bytes";
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        t.response.error = "timed out after " + std::to_string(t.request->timeout.count()) + " ms";
    } else {
        t.response.error = t.error_buffer[0] != '\0' ? t.error_buffer : curl_easy_strerror(code);
    }
    t.response.body.clear();
}

}  // namespace

CurlGlobal::CurlGlobal() {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        throw std::runtime_error("curl_global_init failed");
    }
}

CurlGlobal::~CurlGlobal() { curl_global_cleanup(); }

std::vector<HttpResponse> perform_all(const std::vector<HttpRequest>& requests) {
    std::vector<Transfer> transfers(requests.size());
    if (requests.empty()) return {};
    CURLM* multi = curl_multi_init();
    if (multi == nullptr) throw std::runtime_error("curl_multi_init failed");
    std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi_guard(multi, &curl_multi_cleanup);
    for (std::size_t i = 0; i < requests.size(); ++i) {
        setup(transfers[i], requests[i]);
        curl_easy_setopt(transfers[i].easy.get(), CURLOPT_PRIVATE, &transfers[i]);
        curl_multi_add_handle(multi, transfers[i].easy.get());
    }
    int running = 0;
    do {
        if (curl_multi_perform(multi, &running) != CURLM_OK) break;
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
            if (msg->msg != CURLMSG_DONE) continue;
            Transfer* t = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
            finish(*t, msg->data.result);
        }
        if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    } while (running > 0);
    std::vector<HttpResponse> out;
    out.reserve(transfers.size());
    for (auto& t : transfers) {
        curl_multi_remove_handle(multi, t.easy.get());
        out.push_back(std::move(t.response));
    }
    return out;
}

HttpResponse perform(const HttpRequest& request) { return std::move(perform_all({request}).front()); }

}  // namespace levqor::controld::net
