// SPDX-License-Identifier: Apache-2.0
// Synchronous signal handling: BlockedSignals blocks a set of signals before
// any thread exists and main's loop waits for them, so no code runs in signal
// context. Construct and destroy it on one thread; wait_for() from one thread
// at a time.
#pragma once

#include <signal.h>

#include <chrono>
#include <initializer_list>
#include <string>

namespace levqor::controld {

// Blocks a set of signals in the calling thread for the object's lifetime and
// lets that thread receive them synchronously with wait_for(). No signal
// handler is installed, so no code ever runs in signal context.
//
// Construct it first thing in main(), before any thread exists: threads
// inherit the mask, so every thread started afterwards leaves these signals
// to wait_for(). A process launched by fork/exec also inherits the mask; a
// component that spawns children must reset it there (posix_spawnattr_setsigmask).
//
// Thread-safety: construct and destroy on the same thread; wait_for() may be
// called from any one thread at a time.
class BlockedSignals {
public:
    explicit BlockedSignals(std::initializer_list<int> signals);
    ~BlockedSignals();  // restores the previous mask of the constructing thread
    BlockedSignals(const BlockedSignals&) = delete;
    BlockedSignals& operator=(const BlockedSignals&) = delete;

    // Waits up to `timeout` (zero polls) for one of the signals; returns its
    // number, or 0 when none arrived in time.
    int wait_for(std::chrono::milliseconds timeout) const;

private:
    sigset_t set_{};
    sigset_t previous_{};
};

// "SIGTERM", "SIGINT", ... or "signal N".
std::string signal_name(int signo);

}  // namespace levqor::controld
