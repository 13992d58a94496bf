// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/abuse/deny_list.h"

#include <new>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "levqor/controld/core/settings_reader.h"

namespace levqor::controld::abuse {
namespace {

std::string pcre2_message(int code) {
    PCRE2_UCHAR buffer[256];
    const int n = pcre2_get_error_message(code, buffer, sizeof buffer);
    if (n < 0) return "PCRE2 error " + std::to_string(code);
    return std::string(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(n));
}

}  // namespace

struct DenyList::Compiled {
    pcre2_code* code = nullptr;
    pcre2_match_context* context = nullptr;
    bool jit = false;
    ~Compiled() {
        pcre2_match_context_free(context);
        pcre2_code_free(code);
    }
};

DenyList::DenyList() = default;
DenyList::~DenyList() = default;
DenyList::DenyList(DenyList&&) noexcept = default;
DenyList& DenyList::operator=(DenyList&&) noexcept = default;

DenyList::DenyList(std::string config_key, const std::vector<std::string>& patterns) : key_(std::move(config_key)) {
    if (patterns.size() > kMaxDenyPatterns) {
        throw ConfigError(key_ + " has " + std::to_string(patterns.size()) + " patterns; at most " +
                          std::to_string(kMaxDenyPatterns) + " are accepted");
    }
    for (std::size_t i = 0; i < patterns.size(); ++i) {
        const auto& pattern = patterns[i];
        const auto where = key_ + "[" + std::to_string(i) + "] = " + quoted(pattern) + " is invalid: ";
        if (pattern.empty()) throw ConfigError(where + "empty pattern (it would match everything)");
        if (pattern.size() > kMaxDenyPatternLength) {
            throw ConfigError(key_ + "[" + std::to_string(i) + "] is invalid: longer than " +
                              std::to_string(kMaxDenyPatternLength) + " bytes");
        }
        auto compiled = std::make_unique<Compiled>();
        int error = 0;
        PCRE2_SIZE offset = 0;
        compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                       PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
        if (!compiled->code) {
            throw ConfigError(where + pcre2_message(error) + " at offset " + std::to_string(offset));
        }
        compiled->jit = pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE) == 0;
        compiled->context = pcre2_match_context_create(nullptr);
        if (!compiled->context) throw std::bad_alloc();
        pcre2_set_match_limit(compiled->context, kDenyMatchLimit);
        pcre2_set_depth_limit(compiled->context, kDenyDepthLimit);
        patterns_.push_back(std::move(compiled));
    }
}

std::size_t DenyList::size() const { return patterns_.size(); }

bool DenyList::jit() const {
    for (const auto& p : patterns_) {
        if (!p->jit) return false;
    }
    return true;
}

std::optional<std::size_t> DenyList::match(std::string_view subject) const {
    if (patterns_.empty()) return std::nullopt;
    if (subject.size() > kMaxDenySubject) {
        throw std::invalid_argument("a deny-list subject is longer than " + std::to_string(kMaxDenySubject) + " bytes");
    }
    // Match data per call (a DenyList is shared by the worker threads), one
    // for all patterns: one ovector pair is enough to know that a pattern
    // matched (pcre2_match returns 0 when the captures do not fit).
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(pcre2_match_data_create(1, nullptr),
                                                                             &pcre2_match_data_free);
    if (!data) throw std::bad_alloc();
    for (std::size_t i = 0; i < patterns_.size(); ++i) {
        const auto& p = *patterns_[i];
        const int rc = pcre2_match(p.code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                                   data.get(), p.context);
        if (rc >= 0) return i;
        if (rc == PCRE2_ERROR_NOMATCH) continue;
        throw DenyMatchError(key_ + "[" + std::to_string(i) + "]: matching stopped: " + pcre2_message(rc));
    }
    return std::nullopt;
}

}  // namespace levqor::controld::abuse
