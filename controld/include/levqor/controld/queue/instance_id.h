// SPDX-License-Identifier: Apache-2.0
// This installation's identity in the queue (<data_dir>/queue-instance-id) and
// the Redis consumer names made from it, by which a restarted controld takes
// back what its previous process held. Free functions, safe to call
// concurrently.
#pragma once

#include <string>

namespace levqor::controld::queue {

// This installation's identity in the queue: 32 lower-case hex digits kept
// in <data_dir>/queue-instance-id. The Redis consumer of worker i is
// "controld-<id>-<i>", the same after every restart of this controld, so a
// restarted controld recognises and takes back at once what its previous
// process held (docs/controld.md, "Crash and restart"). Two controlds with
// different data directories never share an id; a copied data directory
// copies it (delete the file in the copy).
//
// The file is created at the first start: written to a temporary file, then
// linked into place, so a crash never leaves a partial id and two processes
// starting at once agree on one. Throws FileError when data_dir cannot be
// read or written, or the file holds something else (the message says to
// delete it). Thread-safety: a free function; safe to call concurrently.
std::string load_or_create_instance_id(const std::string& data_dir);

bool is_instance_id(const std::string& text);

// Worker `worker`'s Redis consumer: "controld-<instance>-<worker>".
std::string consumer_name(const std::string& instance, unsigned worker);
// What every consumer name of the instance starts with: "controld-<instance>-".
std::string consumer_prefix(const std::string& instance);

}  // namespace levqor::controld::queue
