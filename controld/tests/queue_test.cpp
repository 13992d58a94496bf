// SPDX-License-Identifier: Apache-2.0
// The queue's pieces without a server: retry policy, job
// request validation, exec runner, the SQLite backend's transitions and its
// recovery at start, the instance id, the quota and the inline pool.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <set>
#include <thread>

#include "levqor/controld/core/files.h"
#include "levqor/controld/queue/exec_runner.h"
#include "levqor/controld/queue/executor.h"
#include "levqor/controld/queue/inline_pool.h"
#include "levqor/controld/queue/instance_id.h"
#include "levqor/controld/queue/job_request.h"
#include "levqor/controld/queue/quota.h"
#include "levqor/controld/queue/retry_policy.h"
#include "levqor/controld/queue/sqlite_backend.h"
#include "levqor/controld/queue/sqlite_db.h"
#include "test_support.h"

namespace levqor::controld::queue {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

// ---- retry policy ----------------------------------------------------------------

TEST(RetryPolicy, DefaultsAreOneFiveFifteenSecondsThenDead) {
    const RetryPolicy policy(QueueSettings{}.retry_delays, 0.1);
    EXPECT_EQ(policy.max_attempts("noop"), 4);
    EXPECT_EQ(policy.delay_after("noop", 1, 0.5), 1000ms);
    EXPECT_EQ(policy.delay_after("noop", 2, 0.5), 5000ms);
    EXPECT_EQ(policy.delay_after("noop", 3, 0.5), 15000ms);
    EXPECT_FALSE(policy.delay_after("noop", 4, 0.5));
}

TEST(RetryPolicy, JitterStaysWithinTenPercent) {
    const RetryPolicy policy(QueueSettings{}.retry_delays, 0.1);
    EXPECT_EQ(policy.delay_after("http", 2, 0.0), 4500ms);
    EXPECT_EQ(policy.delay_after("http", 2, 1.0), 5500ms);
    for (double u = 0; u < 1; u += 0.01) {
        const auto d = *policy.delay_after("http", 1, u);
        EXPECT_GE(d, 900ms);
        EXPECT_LE(d, 1100ms);
    }
}

TEST(RetryPolicy, PerTypeDelays) {
    RetryPolicy::Delays delays = QueueSettings{}.retry_delays;
    delays["http"] = {2s, 10s};
    const RetryPolicy policy(delays, 0);
    EXPECT_EQ(policy.max_attempts("http"), 3);
    EXPECT_EQ(policy.delay_after("http", 2, 0.3), 10000ms);
    EXPECT_EQ(policy.max_attempts("exec"), 4);
}

// ---- POST /jobs bodies ---------------------------------------------------------------

class JobRequests : public ::testing::Test {
protected:
    JobRequests() {
        executors_.add("noop", make_noop_executor());
        executors_.add("http", make_http_executor({"http://127.0.0.1:9000/"}, 1000ms, 20000ms));
        ExecCommand echo;
        echo.path = "/bin/echo";
        echo.args_allowed = true;
        ExecCommand fixed;
        fixed.path = "/bin/true";
        executors_.add("exec", make_exec_executor({{"echo", echo}, {"fixed", fixed}}));
    }
    std::string code_of(const std::string& body) {
        try {
            parse_job_request(body, executors_, limits_, 1000);
        } catch (const InvalidJob& e) {
            return e.code() + ": " + e.what();
        }
        return "ok";
    }
    ExecutorRegistry executors_;
    JobLimits limits_{256, 3};
};

TEST_F(JobRequests, OneJobOrABatch) {
    auto one = parse_job_request(R"({"type":"noop","payload":{"a":1}})", executors_, limits_, 1000);
    ASSERT_EQ(one.jobs.size(), 1u);
    EXPECT_FALSE(one.batch);
    EXPECT_EQ(one.jobs[0].payload, R"({"a":1})");
    EXPECT_TRUE(is_job_id(one.jobs[0].id));
    auto many =
        parse_job_request(R"({"jobs":[{"type":"noop"},{"type":"noop","payload":{}}]})", executors_, limits_, 1000);
    EXPECT_EQ(many.jobs.size(), 2u);
    EXPECT_TRUE(many.batch);
    EXPECT_NE(many.jobs[0].id, many.jobs[1].id);
    // The fingerprint is the content's, not the ids'.
    auto again =
        parse_job_request(R"({"jobs":[{"type":"noop"},{"type":"noop","payload":{}}]})", executors_, limits_, 2000);
    EXPECT_EQ(many.fingerprint, again.fingerprint);
    EXPECT_NE(one.fingerprint, many.fingerprint);
}

TEST_F(JobRequests, BadInputNamesTheProblem) {
    EXPECT_EQ(code_of("{nope").substr(0, 12), "invalid_json");
    EXPECT_EQ(code_of("[]").substr(0, 12), "invalid_json");
    EXPECT_EQ(code_of(R"({"type":"mystery"})"),
              "unknown_job_type: unknown job type \"mystery\"; known types: exec, http, noop");
    EXPECT_EQ(code_of(R"({"type":"noop","payload":[1]})").substr(0, 11), "invalid_job");
    EXPECT_EQ(code_of(R"({"type":"noop","extra":1})").substr(0, 11), "invalid_job");
    EXPECT_EQ(code_of(R"({"type":"noop","payload":{"x":")" + std::string(300, 'a') + "\"}}").substr(0, 17),
              "payload_too_large");
    EXPECT_EQ(code_of(R"({"jobs":[{"type":"noop"},{"type":"noop"},{"type":"noop"},{"type":"noop"}]})").substr(0, 13),
              "too_many_jobs");
    EXPECT_NE(code_of(R"({"jobs":[{"type":"noop"},{"type":"nah"}]})").find("jobs[1]: unknown job type"),
              std::string::npos);
    EXPECT_EQ(code_of(R"({"jobs":[]})").substr(0, 11), "invalid_job");
}

TEST_F(JobRequests, DeepNestingIsRefusedBeforeParsing) {
    // The security review's H1 body: ~600 KB nested 300,000 deep.
    const std::size_t n = 300000;
    const std::string deep = R"({"type":"noop","payload":{"a":)" + std::string(n, '[') + std::string(n, ']') + "}}";
    EXPECT_EQ(code_of(deep), "invalid_json: the body is refused: nesting deeper than 64 levels (at byte 92)");
    // 64 levels in all are fine (the body and the payload are two of them).
    const auto nested = [](std::size_t depth) {
        return R"({"type":"noop","payload":{"a":)" + std::string(depth, '[') + std::string(depth, ']') + "}}";
    };
    EXPECT_EQ(code_of(nested(62)), "ok");
    EXPECT_EQ(code_of(nested(63)).substr(0, 12), "invalid_json");
}

TEST_F(JobRequests, ASurelyTooLargePayloadIsRefusedBeforeItIsWritten) {
    EXPECT_EQ(code_of(R"({"type":"noop","payload":{"x":")" + std::string(300, 'a') + "\"}}"),
              "payload_too_large: the payload is at least 308 bytes; the limit is 256 "
              "(queue.max_payload_bytes)");
    // Escapes only show in the written text: 60 x \u0001 is 60 bytes parsed, 360 written.
    std::string escaped;
    for (int i = 0; i < 60; ++i) escaped += "\\u0001";
    EXPECT_EQ(code_of(R"({"type":"noop","payload":{"x":")" + escaped + "\"}}"),
              "payload_too_large: the payload is 368 bytes; the limit is 256 "
              "(queue.max_payload_bytes)");
}

TEST_F(JobRequests, HttpPayloads) {
    EXPECT_EQ(
        code_of(
            R"({"type":"http","payload":{"url":"http://127.0.0.1:9000/hook","body":{"a":1},"headers":{"X-A":"b"},"timeout_ms":500}})"),
        "ok");
    EXPECT_EQ(code_of(R"({"type":"http","payload":{}})").substr(0, 11), "invalid_job");
    EXPECT_EQ(code_of(R"({"type":"http","payload":{"url":"not a url"}})").substr(0, 11), "invalid_url");
    EXPECT_EQ(code_of(R"({"type":"http","payload":{"url":"http://10.0.0.1/"}})").substr(0, 15), "url_not_allowed");
    EXPECT_EQ(
        code_of(R"({"type":"http","payload":{"url":"http://127.0.0.1:9000/","headers":{"Host":"x"}}})").substr(0, 11),
        "invalid_job");
    EXPECT_EQ(code_of(R"({"type":"http","payload":{"url":"http://127.0.0.1:9000/","headers":{"A":"x\r\nB: y"}}})")
                  .substr(0, 11),
              "invalid_job");
    EXPECT_EQ(
        code_of(R"({"type":"http","payload":{"url":"http://127.0.0.1:9000/","timeout_ms":999999}})").substr(0, 11),
        "invalid_job");
}

TEST_F(JobRequests, ExecNamesADeclaredCommand) {
    EXPECT_EQ(code_of(R"({"type":"exec","payload":{"command":"echo","args":["a","b"]}})"), "ok");
    EXPECT_EQ(code_of(R"({"type":"exec","payload":{"command":"/bin/sh"}})").substr(0, 15), "unknown_command");
    EXPECT_EQ(code_of(R"({"type":"exec","payload":{"command":"fixed","args":["x"]}})").substr(0, 11), "invalid_job");
    EXPECT_EQ(code_of(R"({"type":"exec","payload":{"command":"echo","args":[1]}})").substr(0, 11), "invalid_job");
}

TEST_F(JobRequests, ExecArgumentsThatLookLikeOptionsNeedOptionsAllowed) {
    // security review M9: find's "-exec" is arbitrary command execution.
    EXPECT_EQ(code_of(R"({"type":"exec","payload":{"command":"echo","args":["/tmp","-exec","sh",";"]}})"),
              "invalid_job: payload.args[1] \"-exec\" starts with '-': command \"echo\" takes no "
              "options from jobs (queue.exec.echo.options_allowed is false)");
    EXPECT_EQ(code_of(R"({"type":"exec","payload":{"command":"echo","args":["--config=/x"]}})").substr(0, 31),
              "invalid_job: payload.args[0] \"-");
    EXPECT_EQ(code_of(R"({"type":"exec","payload":{"command":"echo","args":["-"]}})").substr(0, 11), "invalid_job");
    EXPECT_EQ(code_of(R"({"type":"exec","payload":{"command":"echo","args":["a-b","x -y"]}})"), "ok");

    ExecCommand echo;
    echo.path = "/bin/echo";
    echo.args_allowed = true;
    echo.options_allowed = true;
    ExecutorRegistry executors;
    executors.add("exec", make_exec_executor({{"echo", echo}}));
    EXPECT_NO_THROW(parse_job_request(R"({"type":"exec","payload":{"command":"echo","args":["-n","x"]}})", executors,
                                      limits_, 1000));
}

// ---- exec ------------------------------------------------------------------------

TEST(ExecRunner, CapturesOutputAndExitCode) {
    ExecSpec spec;
    spec.path = "/bin/sh";
    spec.argv = {"sh", "-c", "echo out; echo err >&2; echo \"$GREETING\"; exit 3"};
    spec.env = {{"GREETING", "hi"}};
    const auto r = run_command(spec);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "out\nhi\n");
    EXPECT_EQ(r.err, "err\n");
    EXPECT_FALSE(r.timed_out);
}

TEST(ExecRunner, TruncatesOutput) {
    ExecSpec spec;
    spec.path = "/bin/sh";
    spec.argv = {"sh", "-c", "head -c 100000 /dev/zero"};
    spec.max_output_bytes = 10;
    const auto r = run_command(spec);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.size(), 10u);
    EXPECT_TRUE(r.truncated);
}

TEST(ExecRunner, KillsTheProcessGroupAfterTheTimeout) {
    ExecSpec spec;
    spec.path = "/bin/sh";
    spec.argv = {"sh", "-c", "sleep 30 & sleep 30"};
    spec.timeout = 300ms;
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_command(spec);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.signal, SIGKILL);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(ExecRunner, ChildStartsWithAnEmptySignalMask) {
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    ExecSpec spec;
    spec.path = "/bin/sh";
    spec.argv = {"sh", "-c", "grep SigBlk /proc/self/status"};
    const auto r = run_command(spec);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    EXPECT_EQ(r.out, "SigBlk:\t0000000000000000\n");
}

TEST(ExecRunner, MissingProgram) {
    ExecSpec spec;
    spec.path = "/nonexistent/program";
    spec.argv = {"program"};
    const auto r = run_command(spec);
    EXPECT_FALSE(r.started);
    EXPECT_EQ(r.error, "cannot run /nonexistent/program: execve: No such file or directory");
}

TEST(ExecRunner, ChildStartsWithDefaultDispositions) {
    // controld (httplib) ignores SIGPIPE; an ignored signal stays ignored across exec.
    struct sigaction ignore {
    }, old{};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &old);
    sigaction(SIGUSR1, &ignore, nullptr);
    ExecSpec spec;
    spec.path = "/bin/sh";
    spec.argv = {"sh", "-c", "grep SigIgn /proc/self/status"};
    const auto r = run_command(spec);
    sigaction(SIGPIPE, &old, nullptr);
    signal(SIGUSR1, SIG_DFL);
    ASSERT_EQ(r.out.rfind("SigIgn:\t", 0), 0u) << r.out;
    // Signals 1 to 31. glibc keeps 32 and 33 for itself (sigaction refuses
    // them): they stay as this process got them (ignored when whoever started
    // it used posix_spawn, as ctest does); programs set them up as they need.
    const auto ignored = std::stoull(r.out.substr(8), nullptr, 16);
    EXPECT_EQ(ignored & 0x7fffffffULL, 0u) << r.out;
}

// Descriptors this process holds without close-on-exec (as a library may
// leave them): a listening socket, a file. Closed at the end.
struct LeakyDescriptors {
    LeakyDescriptors() {
        file = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
        sock = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::listen(sock, 1);
        high = ::fcntl(file, F_DUPFD, 200);  // far above the rest
    }
    ~LeakyDescriptors() {
        ::close(file);
        ::close(sock);
        ::close(high);
    }
    int file, sock, high;
};

TEST(ExecRunner, TheChildHasOnlyStdinStdoutAndStderr) {
    LeakyDescriptors leaky;
    ASSERT_GE(leaky.high, 200);
    ExecSpec spec;
    spec.path = "/bin/sh";
    // ls runs in a child of the shell (the ": " after it keeps sh from exec'ing
    // it) and lists the shell's descriptors, not its own directory handle.
    spec.argv = {"sh", "-c", "ls /proc/$$/fd; :"};
    const auto r = run_command(spec);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.out, "0\n1\n2\n");
}

TEST(ExecRunner, RunsAsTheConfiguredUserAndGroup) {
    if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root";
    ExecSpec spec;
    spec.path = "/bin/sh";
    spec.argv = {"sh", "-c", "id -u; id -g; id -G"};
    spec.uid = 65534;
    spec.gid = 65534;
    const auto r = run_command(spec);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.out, "65534\n65534\n65534\n");  // no supplementary groups kept
    EXPECT_EQ(::geteuid(), 0u);                 // only the child changed
}

// ---- the SQLite backend ------------------------------------------------------------

mode_t mode_of(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

TEST(SqliteDb, FilesArePrivateWhateverTheUmask) {
    TempDir dir;
    const auto path = dir.file("queue.sqlite");
    const mode_t old_umask = ::umask(0);  // the worst case: everything 0666
    {
        SqliteDb db(path);
        db.exec("CREATE TABLE t(x)");
        db.exec("INSERT INTO t VALUES(1)");
        EXPECT_EQ(mode_of(path), 0600u);
        EXPECT_EQ(mode_of(path + "-wal"), 0600u);
        EXPECT_EQ(mode_of(path + "-shm"), 0600u);
    }
    // Files an older controld left readable are made private.
    for (const char* suffix : {"", "-wal", "-shm"}) ::chmod((path + suffix).c_str(), 0644);
    {
        SqliteDb db(path);
        db.exec("INSERT INTO t VALUES(2)");
        EXPECT_EQ(mode_of(path), 0600u);
        EXPECT_EQ(mode_of(path + "-wal"), 0600u);
        EXPECT_EQ(mode_of(path + "-shm"), 0600u);
    }
    ::umask(old_umask);
}

class Sqlite : public ::testing::Test {
protected:
    Sqlite() : backend_(dir_.file("queue.sqlite"), settings()) {}
    std::vector<std::string> add_payloads(const std::vector<std::string>& payloads, bool deliver = true) {
        EnqueueRequest r;
        for (const auto& p : payloads) r.jobs.push_back({new_job_id(now_), "noop", p});
        r.deliver = deliver;
        r.now = now_;
        return backend_.enqueue(r).ids;
    }
    static BackendSettings settings() {
        BackendSettings s;
        s.visibility_timeout = 50ms;
        s.max_redeliveries = 2;
        return s;
    }
    std::vector<std::string> add(int n, std::optional<std::string> key = std::nullopt,
                                 const std::string& fingerprint = "f") {
        EnqueueRequest r;
        for (int i = 0; i < n; ++i) r.jobs.push_back({new_job_id(now_), "noop", "{}"});
        r.idempotency_key = std::move(key);
        r.fingerprint = fingerprint;
        r.now = now_;
        return backend_.enqueue(r).ids;
    }
    static Completion done(const Delivery& d, Outcome::Kind kind, UnixMs run_at = 0) {
        Outcome o;
        o.kind = kind;
        o.run_at = run_at;
        o.error = kind == Outcome::Kind::succeeded ? "" : "boom";
        return {d, o};
    }
    TempDir dir_;
    SqliteBackend backend_;
    UnixMs now_ = now_ms();
};

TEST_F(Sqlite, FetchHoldsJobsUntilCompleted) {
    add(3);
    auto consumer = backend_.consumer(1);
    auto batch = consumer->fetch(2, 0ms);
    ASSERT_EQ(batch.size(), 2u);
    EXPECT_EQ(batch[0].attempt, 1);
    EXPECT_EQ(backend_.get(batch[0].id)->state, JobState::running);
    EXPECT_EQ(consumer->fetch(10, 0ms).size(), 1u);
    EXPECT_TRUE(consumer->fetch(10, 0ms).empty());
    consumer->complete({done(batch[0], Outcome::Kind::succeeded)}, now_ms());
    EXPECT_EQ(backend_.get(batch[0].id)->state, JobState::succeeded);
    EXPECT_EQ(backend_.get(batch[0].id)->attempts, 1);
}

TEST_F(Sqlite, RetryWaitsThenDeadLetters) {
    add(1);
    auto consumer = backend_.consumer(1);
    auto d = consumer->fetch(1, 0ms).at(0);
    consumer->complete({done(d, Outcome::Kind::retry, now_ms() + 300)}, now_ms());
    auto job = backend_.get(d.id);
    EXPECT_EQ(job->state, JobState::retrying);
    EXPECT_EQ(job->last_error, "boom");
    EXPECT_TRUE(consumer->fetch(1, 0ms).empty());  // not due yet
    auto again = consumer->fetch(1, 2000ms);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempt, 2);
    consumer->complete({done(again[0], Outcome::Kind::dead)}, now_ms());
    EXPECT_EQ(backend_.get(d.id)->state, JobState::dead);
    EXPECT_EQ(backend_.dead(10).size(), 1u);
    EXPECT_EQ(backend_.stats(now_ms()).dead, 1);
    EXPECT_EQ(backend_.retry_dead({d.id}, false, now_ms()), 1u);
    EXPECT_EQ(backend_.get(d.id)->state, JobState::queued);
    EXPECT_EQ(consumer->fetch(1, 0ms).at(0).attempt, 1);
}

TEST_F(Sqlite, StaleCompletionsChangeNothing) {
    add(1);
    auto c1 = backend_.consumer(1);
    auto d = c1->fetch(1, 0ms).at(0);
    // The visibility timeout runs out: delivered again.
    std::this_thread::sleep_for(80ms);
    const auto r = backend_.maintain(now_ms());
    EXPECT_EQ(r.reclaimed, 1u);
    auto c2 = backend_.consumer(2);
    auto d2 = c2->fetch(1, 0ms).at(0);
    EXPECT_EQ(d2.id, d.id);
    EXPECT_EQ(d2.redeliveries, 1);
    c1->complete({done(d, Outcome::Kind::dead)}, now_ms());  // late, stale
    EXPECT_EQ(backend_.get(d.id)->state, JobState::running);
    c2->complete({done(d2, Outcome::Kind::succeeded)}, now_ms());
    EXPECT_EQ(backend_.get(d.id)->state, JobState::succeeded);
}

TEST_F(Sqlite, JobsThatKeepTimingOutAreDeadLettered) {
    add(1);
    auto c = backend_.consumer(1);
    ASSERT_EQ(c->fetch(1, 0ms).size(), 1u);
    std::this_thread::sleep_for(80ms);
    EXPECT_EQ(backend_.maintain(now_ms()).reclaimed, 1u);
    ASSERT_EQ(c->fetch(1, 0ms).size(), 1u);
    std::this_thread::sleep_for(80ms);
    const auto r = backend_.maintain(now_ms());
    EXPECT_EQ(r.dead_lettered, 1u);
    EXPECT_EQ(backend_.stats(now_ms()).dead, 1);
}

TEST_F(Sqlite, ReleasedJobsComeBackAtOnceWithoutAnAttempt) {
    add(1);
    auto c = backend_.consumer(1);
    auto d = c->fetch(1, 0ms).at(0);
    c->complete({done(d, Outcome::Kind::released)}, now_ms());
    auto again = c->fetch(1, 0ms);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempt, 1);
}

TEST_F(Sqlite, IdempotencyKeyMakesOneJobUnderConcurrency) {
    std::vector<std::thread> threads;
    std::mutex mutex;
    std::set<std::string> ids;
    for (int i = 0; i < 16; ++i) {
        threads.emplace_back([&] {
            auto got = add(1, std::string("key-1"));
            std::lock_guard<std::mutex> lock(mutex);
            ids.insert(got.begin(), got.end());
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_EQ(backend_.stats(now_ms()).queued, 1);
    EnqueueRequest other;
    other.jobs.push_back({new_job_id(now_), "noop", "{\"x\":1}"});
    other.idempotency_key = "key-1";
    other.fingerprint = "different";
    other.now = now_;
    const auto r = backend_.enqueue(other);
    EXPECT_TRUE(r.replayed);
    EXPECT_TRUE(r.key_conflict);
}

TEST_F(Sqlite, InlineJobsAreNeverDelivered) {
    EnqueueRequest r;
    r.jobs.push_back({new_job_id(now_), "noop", "{}"});
    r.deliver = false;
    r.now = now_;
    backend_.enqueue(r);
    EXPECT_TRUE(backend_.consumer(0)->fetch(1, 0ms).empty());
    EXPECT_EQ(backend_.maintain(now_ms() + 60000).reclaimed, 0u);
    Delivery d{r.jobs[0].id, "noop", "{}", 1, 0, "inline"};
    backend_.complete_inline({done(d, Outcome::Kind::succeeded)}, now_ms());
    EXPECT_EQ(backend_.get(d.id)->state, JobState::succeeded);
}

TEST_F(Sqlite, RecoverTakesBackEveryLeaseAtOnce) {
    add(3);
    // The previous process: one job finished, two held when it was killed,
    // with a visibility timeout far away.
    std::vector<Delivery> held;
    {
        SqliteBackend previous(dir_.file("queue.sqlite"), [] {
            BackendSettings s;
            s.visibility_timeout = std::chrono::hours(1);
            return s;
        }());
        auto c = previous.consumer(0);
        held = c->fetch(3, 0ms);
        ASSERT_EQ(held.size(), 3u);
        c->complete({done(held[0], Outcome::Kind::succeeded)}, now_ms());
    }
    SqliteBackend restarted(dir_.file("queue.sqlite"), settings());
    EXPECT_TRUE(restarted.consumer(0)->fetch(10, 0ms).empty());  // still leased
    const auto r = restarted.recover(now_ms());
    EXPECT_EQ(r.reclaimed, 2u);
    EXPECT_EQ(r.dead_lettered, 0u);
    auto again = restarted.consumer(0)->fetch(10, 0ms);
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0].redeliveries, 1);
    EXPECT_EQ(again[0].attempt, 1);
    EXPECT_EQ(restarted.get(held[0].id)->state, JobState::succeeded);
}

TEST_F(Sqlite, RecoverDeadLettersJobsThatKeepKillingTheProcess) {
    add(1);
    for (int round = 0; round < 2; ++round) {  // settings(): max_redeliveries 2
        SqliteBackend process(dir_.file("queue.sqlite"), settings());
        process.recover(now_ms());
        EXPECT_EQ(process.consumer(0)->fetch(1, 0ms).size(), 1u);
    }
    SqliteBackend last(dir_.file("queue.sqlite"), settings());
    EXPECT_EQ(last.recover(now_ms()).dead_lettered, 1u);
    EXPECT_EQ(last.stats(now_ms()).dead, 1);
}

TEST_F(Sqlite, RecoverEndsInlineJobsThePreviousProcessLeftRunning) {
    const auto ids = add_payloads({"{}"}, /*deliver=*/false);
    SqliteBackend restarted(dir_.file("queue.sqlite"), settings());
    EXPECT_EQ(restarted.recover(now_ms()).inline_dead, 1u);
    const auto job = restarted.get(ids[0]);
    EXPECT_EQ(job->state, JobState::dead);
    EXPECT_NE(job->last_error.find("controld stopped while the job ran inline"), std::string::npos);
}

TEST_F(Sqlite, PayloadBytesCountJobsNotSucceededAndSurviveARestart) {
    add_payloads({"{\"a\":\"12345\"}", "{\"b\":\"\u00e9\"}", "{}"});
    const auto first = static_cast<std::int64_t>(std::string("{\"a\":\"12345\"}").size() +
                                                 std::string("{\"b\":\"\u00e9\"}").size() + 2);
    EXPECT_EQ(backend_.stats(now_ms()).payload_bytes, first);
    auto c = backend_.consumer(0);
    auto batch = c->fetch(3, 0ms);
    ASSERT_EQ(batch.size(), 3u);
    c->complete({done(batch[0], Outcome::Kind::succeeded), done(batch[1], Outcome::Kind::dead),
                 done(batch[2], Outcome::Kind::retry, now_ms() + 60000)},
                now_ms());
    // The one that succeeded dropped its payload; dead and retrying keep theirs.
    const auto left = first - static_cast<std::int64_t>(batch[0].payload.size());
    EXPECT_EQ(backend_.stats(now_ms()).payload_bytes, left);
    SqliteBackend reopened(dir_.file("queue.sqlite"), settings());
    EXPECT_EQ(reopened.stats(now_ms()).payload_bytes, left);
}

// ---- instance id -------------------------------------------------------------------

TEST(InstanceId, MadeOnceThenTheSame) {
    TempDir dir;
    const auto id = load_or_create_instance_id(dir.path());
    EXPECT_TRUE(is_instance_id(id)) << id;
    EXPECT_EQ(load_or_create_instance_id(dir.path()), id);
    EXPECT_EQ(dir.read("queue-instance-id"), id + "\n");
    TempDir other;
    EXPECT_NE(load_or_create_instance_id(other.path()), id);
    EXPECT_EQ(consumer_name(id, 3), "controld-" + id + "-3");
}

TEST(InstanceId, ConcurrentFirstStartsAgree) {
    TempDir dir;
    std::vector<std::thread> threads;
    std::mutex mutex;
    std::set<std::string> ids;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            const auto id = load_or_create_instance_id(dir.path());
            std::lock_guard<std::mutex> lock(mutex);
            ids.insert(id);
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ids.size(), 1u);
}

TEST(InstanceId, AFileWithSomethingElseIsRefused) {
    TempDir dir;
    dir.write("queue-instance-id", "not an id\n", 0644);
    try {
        load_or_create_instance_id(dir.path());
        FAIL() << "accepted";
    } catch (const FileError& e) {
        EXPECT_NE(std::string(e.what()).find("queue-instance-id does not hold an instance id"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("delete it"), std::string::npos);
    }
}

// ---- quota -------------------------------------------------------------------------

TEST(Quota, AdmitsWithinBothLimits) {
    Quota quota(10, 100);
    EXPECT_EQ(quota.admit(6, 50), Quota::Verdict::admitted);
    EXPECT_EQ(quota.admit(5, 10), Quota::Verdict::depth);
    EXPECT_EQ(quota.admit(4, 51), Quota::Verdict::bytes);
    EXPECT_EQ(quota.admit(4, 50), Quota::Verdict::admitted);
    EXPECT_EQ(quota.usage().depth, 10);
    quota.cancel(4, 50);
    EXPECT_EQ(quota.admit(1, 1), Quota::Verdict::admitted);
}

TEST(Quota, RefreshReplacesWhatWasAdmittedBeforeTheMark) {
    Quota quota(100, 1000);
    ASSERT_EQ(quota.admit(30, 300), Quota::Verdict::admitted);
    const auto mark = quota.mark();
    ASSERT_EQ(quota.admit(5, 50), Quota::Verdict::admitted);  // while the backend is asked
    // The backend counted the 30 (and, say, 10 others stored elsewhere).
    quota.refresh({40, 400}, mark);
    EXPECT_EQ(quota.usage().depth, 45);
    EXPECT_EQ(quota.usage().bytes, 450);
    // Workers finished everything.
    quota.refresh({0, 0}, quota.mark());
    EXPECT_EQ(quota.usage().depth, 0);
    EXPECT_EQ(quota.admit(100, 1000), Quota::Verdict::admitted);
}

// ---- inline pool -------------------------------------------------------------------

TEST(InlinePool, RefusesPlacesBeyondThreadsAndQueue) {
    InlinePool pool(1, 1);
    pool.start();
    std::mutex gate;
    std::unique_lock<std::mutex> hold(gate);
    std::atomic<int> ran{0};
    const auto blocked = [&] {
        std::lock_guard<std::mutex> wait(gate);
        ++ran;
    };
    auto a = pool.reserve();
    auto b = pool.reserve();
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(pool.reserve());  // one running + one waiting
    pool.submit(std::move(*a), {blocked, [] {}});
    pool.submit(std::move(*b), {blocked, [] {}});
    EXPECT_FALSE(pool.reserve());
    hold.unlock();
    for (int i = 0; i < 500 && ran < 2; ++i) std::this_thread::sleep_for(2ms);
    EXPECT_EQ(ran.load(), 2);
    for (int i = 0; i < 500 && pool.busy() > 0; ++i) std::this_thread::sleep_for(2ms);
    EXPECT_TRUE(pool.reserve());  // given back when the tasks ended
    {
        auto unused = pool.reserve();  // dropped unsubmitted: given back
    }
    EXPECT_TRUE(pool.reserve());
}

TEST(InlinePool, StopAbandonsWhatHasNotStarted) {
    InlinePool pool(1, 2);
    pool.start();
    std::mutex gate;
    std::unique_lock<std::mutex> hold(gate);
    std::atomic<int> ran{0}, abandoned{0};
    for (int i = 0; i < 3; ++i) {
        pool.submit(*pool.reserve(), {[&] {
                                          std::lock_guard<std::mutex> wait(gate);
                                          ++ran;
                                      },
                                      [&] { ++abandoned; }});
    }
    for (int i = 0; i < 500 && pool.busy() == 0; ++i) std::this_thread::sleep_for(2ms);
    pool.stop();  // returns at once, the running task still blocked
    EXPECT_FALSE(pool.reserve());
    hold.unlock();
    EXPECT_TRUE(pool.wait_stopped(5s));
    EXPECT_EQ(ran.load(), 1);  // the running one finished
    EXPECT_EQ(abandoned.load(), 2);
}

}  // namespace
}  // namespace levqor::controld::queue
