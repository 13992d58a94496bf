#include "levqor/controld/queue/exec_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "levqor/controld/core/unique_fd.h"

namespace levqor::controld::queue {
namespace {

using Clock = std::chrono::steady_clock;

struct SpawnActions {
  posix_spawn_file_actions_t actions;
  SpawnActions() { ::posix_spawn_file_actions_init(&actions); }
  ~SpawnActions() { ::posix_spawn_file_actions_destroy(&actions); }
};

struct SpawnAttr {
  posix_spawnattr_t attr;
  SpawnAttr() { ::posix_spawnattr_init(&attr); }
  ~SpawnAttr() { ::posix_spawnattr_destroy(&attr); }
};

bool make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return true;
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

}  // namespace

ExecResult run_command(const ExecSpec& spec) {
  ExecResult result;
  const auto started = Clock::now();
  UniqueFd out_r, out_w, err_r, err_w;
  if (!make_pipe(out_r, out_w) || !make_pipe(err_r, err_w)) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  SpawnActions actions;
  ::posix_spawn_file_actions_addopen(&actions.actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions.actions, out_w.get(), 1);
  ::posix_spawn_file_actions_adddup2(&actions.actions, err_w.get(), 2);
  SpawnAttr attr;
  sigset_t empty;
  ::sigemptyset(&empty);
  sigset_t all;
  ::sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr.attr, &empty);
  ::posix_spawnattr_setsigdefault(&attr.attr, &all);
  ::posix_spawnattr_setpgroup(&attr.attr, 0);
  ::posix_spawnattr_setflags(&attr.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                             POSIX_SPAWN_SETPGROUP);

  std::vector<char*> argv;
  for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : spec.env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, spec.path.c_str(), &actions.actions, &attr.attr,
                               argv.data(), envp.data());
  out_w.reset();
  err_w.reset();
  if (rc != 0) {
    result.error = "cannot run " + spec.path + ": " + std::strerror(rc);
    return result;
  }
  result.started = true;

  const auto deadline = started + spec.timeout;
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_open ? out_r.get() : -1, POLLIN, 0},
                     {err_open ? err_r.get() : -1, POLLIN, 0}};
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
