// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/queue/exec_runner.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "levqor/controld/core/unique_fd.h"

namespace levqor::controld::queue {
namespace {

using Clock = std::chrono::steady_clock;

// A descriptor at 3 or above, close-on-exec: the child's dup2() onto 0/1/2
// must never overwrite one of its own sources (possible if controld runs
// with a standard descriptor closed).
bool above_stdio(UniqueFd& fd) {
    if (fd.get() > 2) return true;
    UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
    if (!moved.valid()) return false;
    fd = std::move(moved);
    return true;
}

bool make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
    return above_stdio(read_end) && above_stdio(write_end);
}

// Appends what the pipe has; false at end of file.
bool drain(int fd, std::string& into, std::size_t limit, bool& truncated) {
    char buf[8192];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n == 0) return false;
    const auto room = limit > into.size() ? limit - into.size() : 0;
    const auto keep = std::min<std::size_t>(room, static_cast<std::size_t>(n));
    into.append(buf, keep);
    if (keep < static_cast<std::size_t>(n)) truncated = true;
    return true;
}

// The steps of the child between fork and exec; one that fails is reported
// to the parent (step and errno) through a close-on-exec pipe.
enum class Step : int { setpgid, sigprocmask, dup_stdin, dup_stdout, dup_stderr, setgroups, setgid, setuid, execve };

const char* step_name(Step step) {
    switch (step) {
        case Step::setpgid:
            return "setpgid";
        case Step::sigprocmask:
            return "sigprocmask";
        case Step::dup_stdin:
            return "dup2 (stdin)";
        case Step::dup_stdout:
            return "dup2 (stdout)";
        case Step::dup_stderr:
            return "dup2 (stderr)";
        case Step::setgroups:
            return "setgroups";
        case Step::setgid:
            return "setgid";
        case Step::setuid:
            return "setuid";
        case Step::execve:
            return "execve";
    }
    return "?";
}

struct ChildFailure {
    Step step;
    int error;
};

// Everything the child needs, prepared before fork(): the child of a
// multi-threaded process may only make async-signal-safe calls, so it
// allocates nothing and touches no lock.
struct ChildPlan {
    const char* path;
    char* const* argv;
    char* const* envp;
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    int report_fd;  // write end of the failure pipe
    bool set_gid;   // only when controld runs as root
    gid_t gid;
    bool set_uid;
    uid_t uid;
};

[[noreturn]] void child_fail(const ChildPlan& plan, Step step) noexcept {
    const ChildFailure failure{step, errno};
    // Smaller than PIPE_BUF, so written whole or not at all; nothing else to do.
    [[maybe_unused]] const auto n = ::write(plan.report_fd, &failure, sizeof failure);
    ::_exit(127);
}

// The command gets only 0, 1 and 2, whatever controld holds (sockets,
// databases, other jobs' pipes) and whether or not it was opened
// close-on-exec: everything from 3 up is closed at exec. The report pipe
// stays usable until then.
void close_the_rest_at_exec(int report_fd) noexcept {
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    // Kernels before 5.11: close them now, one by one, but the report pipe.
    struct rlimit limit {};
    rlim_t end = 1 << 16;
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        end = std::min<rlim_t>(limit.rlim_cur, 1 << 20);
    }
    for (rlim_t fd = 3; fd < end; ++fd) {
        if (static_cast<int>(fd) != report_fd) ::close(static_cast<int>(fd));
    }
}

[[noreturn]] void run_child(const ChildPlan& plan) noexcept {
    // Its own process group (the parent sets it too, whichever runs first), so
    // the timeout kills everything it started.
    if (::setpgid(0, 0) != 0) child_fail(plan, Step::setpgid);
    // controld blocks SIGTERM/SIGINT/SIGHUP in every thread and ignores
    // SIGPIPE; the command starts with an empty mask and default dispositions.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    ::sigemptyset(&default_action.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
    sigset_t empty;
    ::sigemptyset(&empty);
    if (::sigprocmask(SIG_SETMASK, &empty, nullptr) != 0) child_fail(plan, Step::sigprocmask);
    if (::dup2(plan.stdin_fd, 0) < 0) child_fail(plan, Step::dup_stdin);
    if (::dup2(plan.stdout_fd, 1) < 0) child_fail(plan, Step::dup_stdout);
    if (::dup2(plan.stderr_fd, 2) < 0) child_fail(plan, Step::dup_stderr);
    close_the_rest_at_exec(plan.report_fd);
    // Group before user: once the uid is dropped, the groups cannot change.
    if (plan.set_gid) {
        if (::setgroups(1, &plan.gid) != 0) child_fail(plan, Step::setgroups);
        if (::setgid(plan.gid) != 0) child_fail(plan, Step::setgid);
    }
    if (plan.set_uid && ::setuid(plan.uid) != 0) child_fail(plan, Step::setuid);
    ::execve(plan.path, plan.argv, plan.envp);
    child_fail(plan, Step::execve);
}

// Nothing from the child until its end of the report pipe closes at exec:
// started. A ChildFailure: it exited (127) before exec; reaped here.
std::optional<ChildFailure> wait_for_exec(int report_fd, pid_t pid) {
    ChildFailure failure{};
    ssize_t n;
    do {
        n = ::read(report_fd, &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof failure)) return std::nullopt;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return failure;
}

}  // namespace

ExecResult run_command(const ExecSpec& spec) {
    ExecResult result;
    const auto started = Clock::now();
    UniqueFd out_r, out_w, err_r, err_w, report_r, report_w;
    if (!make_pipe(out_r, out_w) || !make_pipe(err_r, err_w) || !make_pipe(report_r, report_w)) {
        result.error = std::string("pipe: ") + std::strerror(errno);
        return result;
    }
    UniqueFd null_in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_in.valid() || !above_stdio(null_in)) {
        result.error = std::string("/dev/null: ") + std::strerror(errno);
        return result;
    }

    std::vector<char*> argv;
    for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (const auto& [name, value] : spec.env) env_strings.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    const bool root = ::geteuid() == 0;  // otherwise the config allowed only our own ids
    const ChildPlan plan{spec.path.c_str(),    argv.data(),
                         envp.data(),          null_in.get(),
                         out_w.get(),          err_w.get(),
                         report_w.get(),       root && spec.gid.has_value(),
                         spec.gid.value_or(0), root && spec.uid.has_value(),
                         spec.uid.value_or(0)};
    const pid_t pid = ::fork();
    if (pid < 0) {
        result.error = "cannot run " + spec.path + ": fork: " + std::strerror(errno);
        return result;
    }
    if (pid == 0) run_child(plan);
    ::setpgid(pid, pid);  // fails harmlessly once the child has exec'd
    out_w.reset();
    err_w.reset();
    report_w.reset();
    null_in.reset();
    if (const auto failure = wait_for_exec(report_r.get(), pid)) {
        result.error =
            "cannot run " + spec.path + ": " + step_name(failure->step) + ": " + std::strerror(failure->error);
        return result;
    }
    result.started = true;

    const auto deadline = started + spec.timeout;
    bool out_open = true;
    bool err_open = true;
    while (out_open || err_open) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            result.timed_out = true;
            break;
        }
        pollfd fds[2] = {{out_open ? out_r.get() : -1, POLLIN, 0}, {err_open ? err_r.get() : -1, POLLIN, 0}};
        const int ready = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000)));
        if (ready < 0 && errno != EINTR) break;
        if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            out_open = drain(out_r.get(), result.out, spec.max_output_bytes, result.truncated);
        }
        if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            err_open = drain(err_r.get(), result.err, spec.max_output_bytes, result.truncated);
        }
    }
    if (result.timed_out) ::kill(-pid, SIGKILL);  // the group: children it started go too
    // Output closed does not mean exited: wait for the exit until the deadline.
    int status = 0;
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, result.timed_out ? 0 : WNOHANG);
        if (done == pid) break;
        if (done < 0 && errno != EINTR) break;
        if (result.timed_out) continue;
        if (Clock::now() >= deadline) {
            result.timed_out = true;
            ::kill(-pid, SIGKILL);
            continue;
        }
        ::usleep(2000);
    }
    if (result.timed_out) ::kill(-pid, SIGKILL);  // stragglers of the group
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    result.elapsed = Clock::now() - started;
    return result;
}

}  // namespace levqor::controld::queue
