#pragma once

#include <stdexcept>

namespace levqor::controld {

// A system controld depends on failed or cannot be reached: Redis (any
// command on net::RedisConnection), the queue's SQLite file. The queue
// calls it BackendError (queue/backend.h) and backs off or answers 503; the
// health check reports the dependency down. what() names the system and
// what went wrong, never a credential.
class DependencyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace levqor::controld
