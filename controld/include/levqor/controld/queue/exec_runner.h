// SPDX-License-Identifier: Apache-2.0
// Running one configured command for an exec job: fork and exec without a
// shell, in its own process group, with a clean signal mask and no inherited
// descriptors, output captured up to a cap, killed at its timeout. A free
// function; concurrent calls are independent.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace levqor::controld::queue {

// One run of a configured command (an `exec` job).
struct ExecSpec {
    std::string path;                                      // absolute; run as is, no shell, no PATH lookup
    std::vector<std::string> argv;                         // argv[0] first
    std::vector<std::pair<std::string, std::string>> env;  // the child's whole environment
    std::chrono::milliseconds timeout{10000};
    std::size_t max_output_bytes = 64 * 1024;  // kept of stdout and of stderr, each
    // Run as this user / group (no supplementary groups). Applied only when
    // controld runs as root; the config refuses other ids otherwise.
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
};

struct ExecResult {
    bool started = false;    // false: spawn failed (see error)
    bool timed_out = false;  // killed after the timeout
    int exit_code = -1;      // when it exited normally
    int signal = 0;          // when a signal ended it
    std::string out;         // captured stdout, cut at max_output_bytes
    std::string err;         // captured stderr, likewise
    bool truncated = false;  // more output than was kept
    std::string error;       // spawn failure
    std::chrono::duration<double> elapsed{0};
};

// Runs the program (fork, then execve in the child; no shell, no PATH
// lookup) in a new process group, with an empty signal mask and default
// dispositions (controld blocks SIGTERM/SIGINT/SIGHUP in every thread and
// ignores SIGPIPE; the child must not inherit that), stdin from /dev/null,
// stdout/stderr captured through pipes, and no other descriptor: everything
// from 3 up is closed at exec (close_range), so the command never holds
// controld's sockets, databases or another job's pipes. With uid/gid (and
// controld running as root) the child drops to them before exec. Past the
// timeout the whole process group gets SIGKILL. Between fork and exec the
// child makes only async-signal-safe calls; a step that fails there (exec
// included) is reported through a close-on-exec pipe as `error`, with
// started = false. Never throws for the child's failures.
// Thread-safety: a free function; concurrent calls are independent.
ExecResult run_command(const ExecSpec& spec);

}  // namespace levqor::controld::queue
