// SPDX-License-Identifier: Apache-2.0
// The queue's batch-execution policy (BatchRunner) on its own: fake
// executors, a fake clock, no threads and no backend. t/queue.t runs the
// same policy against real Redis and SQLite.
#include "levqor/controld/queue/batch_runner.h"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

namespace levqor::controld::queue {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// An executor that takes `duration` of fake time per group and answers what
// the test set for each job id (success by default).
class FakeExecutor final : public Executor {
public:
    FakeExecutor(Clock::time_point& now, std::size_t concurrency, std::chrono::milliseconds duration)
        : now_(now), concurrency_(concurrency), duration_(duration) {}

    void validate(const nlohmann::json&) const override {}
    ExecutionResult run_one(const Delivery& job) const override { return run({&job}).front(); }
    std::vector<ExecutionResult> run(const std::vector<const Delivery*>& jobs) const override {
        std::vector<std::string> ids;
        for (const auto* job : jobs) ids.push_back(job->id);
        groups.push_back(ids);
        now_ += duration_ == 0ms ? work_ : duration_;
        if (on_run) on_run();
        if (!failure.empty()) throw std::runtime_error(failure);
        std::vector<ExecutionResult> out;
        for (const auto* job : jobs) {
            const auto found = results.find(job->id);
            out.push_back(found == results.end() ? ExecutionResult{} : found->second);
        }
        return out;
    }
    std::chrono::milliseconds max_duration(const Delivery&) const override { return duration_; }
    std::size_t concurrency() const override { return concurrency_; }

    mutable std::vector<std::vector<std::string>> groups;  // the ids each run() got
    std::map<std::string, ExecutionResult> results;
    std::function<void()> on_run;
    std::string failure;  // run() throws this when set

private:
    Clock::time_point& now_;
    std::size_t concurrency_;
    std::chrono::milliseconds duration_;
    std::chrono::milliseconds work_{400};  // what an instant group takes after all
};

struct Recorded {
    std::string type;
    std::vector<Outcome::Kind> kinds;
    double seconds_each;
};

struct Harness {
    Clock::time_point now{};
    std::atomic<bool> stopping{false};
    ExecutorRegistry executors;
    RetryPolicy retry{{{"default", {1s, 5s}}}, 0.0};
    std::vector<std::vector<Completion>> finished;  // what each sink call got
    std::vector<Recorded> recorded;

    FakeExecutor& add(const std::string& type, std::size_t concurrency, std::chrono::milliseconds duration) {
        auto executor = std::make_shared<FakeExecutor>(now, concurrency, duration);
        executors.add(type, executor);
        return *executor;
    }

    BatchRunner runner() {
        return BatchRunner(executors, retry, 30s, stopping,
                           [this](const std::string& type, const std::vector<Completion>& done, double seconds) {
                               Recorded r{type, {}, seconds};
                               for (const auto& c : done) r.kinds.push_back(c.outcome.kind);
                               recorded.push_back(r);
                           },
                           {[this] { return now; }, [] { return UnixMs{1000000}; }, [] { return 0.5; }});
    }

    void run(const std::vector<Delivery>& batch, BatchRunner::Mode mode = BatchRunner::Mode::queued) {
        runner().run(batch, mode, [this](std::vector<Completion>&& done) { finished.push_back(std::move(done)); });
    }

    std::vector<std::vector<Outcome::Kind>> finished_kinds() const {
        std::vector<std::vector<Outcome::Kind>> out;
        for (const auto& group : finished) {
            out.emplace_back();
            for (const auto& c : group) out.back().push_back(c.outcome.kind);
        }
        return out;
    }
};

Delivery job(const std::string& id, const std::string& type, int attempt = 1) {
    return Delivery{id, type, "{}", attempt, 0, "token-" + id};
}

constexpr auto ok = Outcome::Kind::succeeded;
constexpr auto released = Outcome::Kind::released;
constexpr auto dead = Outcome::Kind::dead;
constexpr auto retry = Outcome::Kind::retry;

using Groups = std::vector<std::vector<std::string>>;
using Kinds = std::vector<std::vector<Outcome::Kind>>;

TEST(BatchRunner, RunsConsecutiveJobsOfATypeInGroupsOfTheExecutorsConcurrency) {
    Harness h;
    auto& http = h.add("http", 2, 1s);
    h.run({job("1", "http"), job("2", "http"), job("3", "http"), job("4", "http"), job("5", "http")});
    EXPECT_EQ(http.groups, (Groups{{"1", "2"}, {"3", "4"}, {"5"}}));
    // Each group's outcomes are handed over as soon as the group is done.
    EXPECT_EQ(h.finished_kinds(), (Kinds{{ok, ok}, {ok, ok}, {ok}}));
    ASSERT_EQ(h.recorded.size(), 3u);
    EXPECT_DOUBLE_EQ(h.recorded[0].seconds_each, 1.0);  // concurrent: each took the group's time
}

TEST(BatchRunner, AnotherTypeStartsANewGroup) {
    Harness h;
    auto& a = h.add("a", 16, 1s);
    auto& b = h.add("b", 16, 1s);
    h.run({job("1", "a"), job("2", "a"), job("3", "b"), job("4", "a")});
    EXPECT_EQ(a.groups, (Groups{{"1", "2"}, {"4"}}));
    EXPECT_EQ(b.groups, (Groups{{"3"}}));
    ASSERT_EQ(h.finished.size(), 3u);
    EXPECT_EQ(h.finished[1].front().delivery.id, "3");
}

TEST(BatchRunner, JobsThatFinishAtOnceRunAsOneGroupAndShareItsTime) {
    Harness h;
    auto& noop = h.add("noop", 1, 0ms);
    h.run({job("1", "noop"), job("2", "noop"), job("3", "noop"), job("4", "noop")});
    EXPECT_EQ(noop.groups, (Groups{{"1", "2", "3", "4"}}));
    ASSERT_EQ(h.recorded.size(), 1u);
    EXPECT_DOUBLE_EQ(h.recorded[0].seconds_each, 0.1);  // 400 ms over 4 jobs
}

TEST(BatchRunner, UnknownTypesAreDeadAndTheRestOfTheBatchStillRuns) {
    Harness h;
    auto& a = h.add("a", 1, 1s);
    h.run({job("1", "mystery"), job("2", "mystery"), job("3", "a")});
    ASSERT_EQ(h.finished.size(), 2u);
    EXPECT_EQ(h.finished_kinds()[0], (std::vector<Outcome::Kind>{dead, dead}));
    EXPECT_EQ(h.finished[0][0].outcome.error, "unknown job type \"mystery\" (no executor for it in this controld)");
    EXPECT_EQ(a.groups, (Groups{{"3"}}));
    ASSERT_EQ(h.recorded.size(), 2u);
    EXPECT_EQ(h.recorded[0].type, "mystery");
    EXPECT_EQ(h.recorded[0].seconds_each, 0);
}

TEST(BatchRunner, QueuedGroupsThatCouldNotFinishWithinTheVisibilityBudgetAreReleased) {
    Harness h;  // visibility timeout 30 s: the budget is 27 s
    auto& slow = h.add("slow", 1, 20s);
    h.run({job("1", "slow"), job("2", "slow"), job("3", "slow")});
    // 20 s spent + 20 s more > 27 s: the second is not started.
    EXPECT_EQ(slow.groups, (Groups{{"1"}}));
    EXPECT_EQ(h.finished_kinds(), (Kinds{{ok}, {released, released}}));
    ASSERT_EQ(h.recorded.size(), 1u);  // released jobs made no attempt
}

TEST(BatchRunner, TheFirstGroupAlwaysRunsSoABatchMakesProgress) {
    Harness h;
    auto& slower = h.add("slower", 1, 40s);  // longer than the whole budget
    h.run({job("1", "slower"), job("2", "slower")});
    EXPECT_EQ(slower.groups, (Groups{{"1"}}));
    EXPECT_EQ(h.finished_kinds(), (Kinds{{ok}, {released}}));
}

TEST(BatchRunner, InlineBatchesHaveNoVisibilityBudget) {
    Harness h;
    auto& slow = h.add("slow", 1, 20s);
    h.run({job("1", "slow"), job("2", "slow"), job("3", "slow")}, BatchRunner::Mode::inline_run);
    EXPECT_EQ(slow.groups, (Groups{{"1"}, {"2"}, {"3"}}));
}

TEST(BatchRunner, AfterStopQueuedJobsAreReleasedWithoutAnAttempt) {
    Harness h;
    auto& a = h.add("a", 1, 1s);
    a.on_run = [&h] { h.stopping = true; };  // stop arrives while the first job runs
    h.run({job("1", "a"), job("2", "a"), job("3", "b")});
    EXPECT_EQ(a.groups, (Groups{{"1"}}));
    EXPECT_EQ(h.finished_kinds(), (Kinds{{ok}, {released, released}}));
    ASSERT_EQ(h.recorded.size(), 1u);
}

TEST(BatchRunner, AfterStopInlineJobsAreDeadAndCountedOneByOne) {
    Harness h;
    h.stopping = true;
    auto& a = h.add("a", 1, 1s);
    h.run({job("1", "a"), job("2", "b")}, BatchRunner::Mode::inline_run);
    EXPECT_TRUE(a.groups.empty());
    EXPECT_EQ(h.finished_kinds(), (Kinds{{dead, dead}}));
    EXPECT_EQ(h.finished[0][1].outcome.error, kInlineNotRun);
    ASSERT_EQ(h.recorded.size(), 2u);
    EXPECT_EQ(h.recorded[1].type, "b");
}

TEST(BatchRunner, AFailedAttemptIsRetriedAfterItsDelayUntilNoRetryIsLeft) {
    Harness h;  // delays 1 s, 5 s: three attempts
    auto& a = h.add("a", 16, 1s);
    const ExecutionResult failed{ExecutionResult::Kind::retryable, "503 from upstream", nullptr};
    a.results = {{"1", failed}, {"2", failed}, {"3", failed}};
    h.run({job("1", "a", 1), job("2", "a", 2), job("3", "a", 3)});
    ASSERT_EQ(h.finished.size(), 1u);
    const auto& done = h.finished[0];
    EXPECT_EQ(done[0].outcome.kind, retry);
    EXPECT_EQ(done[0].outcome.run_at, 1000000 + 1000);
    EXPECT_EQ(done[1].outcome.run_at, 1000000 + 5000);
    EXPECT_EQ(done[2].outcome.kind, dead);
    EXPECT_EQ(done[2].outcome.error, "503 from upstream (attempt 3 of 3, no retry left)");
}

TEST(BatchRunner, InlineJobsAreNeverRetried) {
    Harness h;
    auto& a = h.add("a", 1, 1s);
    a.results = {{"1", {ExecutionResult::Kind::retryable, "timeout", nullptr}}};
    h.run({job("1", "a")}, BatchRunner::Mode::inline_run);
    EXPECT_EQ(h.finished_kinds(), (Kinds{{dead}}));
    EXPECT_EQ(h.finished[0][0].outcome.error, "timeout");
}

TEST(BatchRunner, AnExecutorThatThrowsMakesItsWholeGroupRetryable) {
    Harness h;
    auto& a = h.add("a", 2, 1s);
    a.failure = "out of file descriptors";
    h.run({job("1", "a"), job("2", "a")});
    EXPECT_EQ(h.finished_kinds(), (Kinds{{retry, retry}}));
    EXPECT_EQ(h.finished[0][1].outcome.error, "executor failed: out of file descriptors");
}

TEST(BatchRunner, PermanentFailuresAreDeadAndKeepTheExecutorsReport) {
    Harness h;
    auto& a = h.add("a", 1, 1s);
    a.results = {{"1", {ExecutionResult::Kind::permanent, "HTTP 404", nlohmann::ordered_json{{"status", 404}}}}};
    h.run({job("1", "a")});
    const auto& outcome = h.finished.at(0).at(0).outcome;
    EXPECT_EQ(outcome.kind, dead);
    EXPECT_EQ(outcome.error, "HTTP 404");
    EXPECT_EQ(outcome.result, R"({"status":404})");
}

}  // namespace
}  // namespace levqor::controld::queue
