// SPDX-License-Identifier: Apache-2.0
// The error of a system controld depends on: Redis (any command on
// net::RedisConnection) or the queue's SQLite file failed or cannot be
// reached. The queue calls it BackendError (queue/backend.h) and backs off
// or answers 503; the health check reports the dependency down. what() names
// the system and what went wrong, never a credential. A value; thread-safe.
#pragma once

#include <stdexcept>

namespace levqor::controld {

class DependencyError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace levqor::controld
