// SPDX-License-Identifier: Apache-2.0
// Parsed<T>: the result of validating configuration text — a value, or a
// message for the operator that names the bad input. Thread-safe (a value).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace levqor {

template <class T>
class Parsed {
public:
    Parsed(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
    static Parsed failure(std::string message) {
        Parsed p;
        p.error_ = std::move(message);
        return p;
    }
    explicit operator bool() const { return value_.has_value(); }
    const T& value() const& { return *value_; }
    T&& value() && { return std::move(*value_); }
    const std::string& error() const { return error_; }

private:
    Parsed() = default;
    std::optional<T> value_;
    std::string error_;
};

}  // namespace levqor
