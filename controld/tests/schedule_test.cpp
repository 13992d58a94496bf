// SPDX-License-Identifier: Apache-2.0
// The scheduler (schedule/scheduler.h) on a real QueueService (SQLite in a
// temporary directory) with an injected clock: slots, catch-up after
// downtime, one job per slot whatever the instances and restarts, inline
// mode; and the "schedules"/"scheduler" settings through load_config.
#include <ctime>

#include <gtest/gtest.h>

#include "levqor/controld/config.h"
#include "levqor/controld/ctl/schedule_commands.h"
#include "levqor/controld/metrics/exposition.h"
#include "levqor/controld/schedule/routes.h"
#include "levqor/controld/schedule/scheduler.h"
#include "test_support.h"

namespace levqor::controld::schedule {
namespace {

using controld::testing::CapturedLog;
using controld::testing::env_of;
using controld::testing::TempDir;
using nlohmann::json;
using namespace std::chrono_literals;

Seconds utc(const std::string& iso) {
    std::tm tm{};
    if (!strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) ADD_FAILURE() << "bad test time " << iso;
    return Seconds(std::chrono::seconds(timegm(&tm)));
}

class CountingJobs : public queue::Executor {
public:
    void validate(const json& payload) const override {
        if (payload.contains("bad")) throw queue::InvalidJob("invalid_job", "payload.bad is refused");
    }
    queue::ExecutionResult run_one(const queue::Delivery&) const override {
        ++runs;
        return {};
    }
    std::chrono::milliseconds max_duration(const queue::Delivery&) const override { return 1s; }
    mutable std::atomic<int> runs{0};
};

// One controld's worth of queue: SQLite in `dir`, a counting job type.
struct QueueFixture {
    explicit QueueFixture(const TempDir& dir)
        : errors(
              registry, log.logger, [](std::string_view) { return false; },
              tracking::ErrorTracker::Settings{dir.path(), {}, {}}),
          queue(queue::QueueService::Settings{queue::QueueSettings{}, std::nullopt, dir.path()}, registry, log.logger,
                errors) {
        queue.register_executor("counted", jobs);
        queue.start();
    }
    ~QueueFixture() {
        queue.stop();
        queue.wait_stopped(5s);
    }
    std::string metrics_text() {
        std::string out;
        metrics::render(registry.collect(), out);
        return out;
    }

    CapturedLog log;
    metrics::Registry registry;
    tracking::ErrorTracker errors;
    std::shared_ptr<CountingJobs> jobs = std::make_shared<CountingJobs>();
    queue::QueueService queue;
};

ScheduleSpec spec(const std::string& name, const std::string& cron, json payload = json::object()) {
    return ScheduleSpec{name, cron, json{{"type", "counted"}, {"payload", std::move(payload)}}, false};
}

struct SchedulerFixture {
    SchedulerFixture(QueueFixture& q, std::vector<ScheduleSpec> specs, bool queued = true,
                     std::chrono::seconds catch_up = 21600s)
        : scheduler(
              Scheduler::Settings{std::move(specs), catch_up}, q.queue, [queued] { return queued; }, registry,
              q.log.logger, q.errors, [this] { return now; }) {}
    Seconds now{};
    metrics::Registry registry;
    Scheduler scheduler;

    Scheduler::Status status(const std::string& name) {
        for (const auto& s : scheduler.list()) {
            if (s.name == name) return s;
        }
        ADD_FAILURE() << "no schedule " << name;
        return {};
    }
    // Ticks at `t` until the schedule's last job reached a final state
    // (generous deadline; the queue's workers run it).
    std::string settle(const std::string& name, Seconds t) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < deadline) {
            scheduler.tick(t);
            const auto s = status(name);
            if (s.last_status && (*s.last_status == "succeeded" || *s.last_status == "failed")) return *s.last_status;
            std::this_thread::sleep_for(10ms);
        }
        return "timeout";
    }
    std::string metrics_text() {
        std::string out;
        metrics::render(registry.collect(), out);
        return out;
    }
};

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

int wait_runs(const CountingJobs& jobs, int expected) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (jobs.runs.load() < expected && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    return jobs.runs.load();
}

TEST(Scheduler, EachDueSlotOnceAndOnlyTheLatestOfMissedOnes) {
    TempDir dir;
    QueueFixture q(dir);
    SchedulerFixture s(q, {spec("every-minute", "* * * * *")}, true, 0s);
    s.scheduler.tick(utc("2026-11-29T10:00:30Z"));  // first round, no catch-up (catch_up_s 0)
    EXPECT_EQ(iso_utc(*s.status("every-minute").next_run_at), "2026-11-29T10:01:00Z");
    EXPECT_FALSE(s.status("every-minute").last_run_at);
    s.scheduler.tick(utc("2026-11-29T10:00:59Z"));
    EXPECT_FALSE(s.status("every-minute").last_run_at);

    EXPECT_EQ(s.settle("every-minute", utc("2026-11-29T10:01:00Z")), "succeeded");
    EXPECT_EQ(iso_utc(*s.status("every-minute").last_run_at), "2026-11-29T10:01:00Z");
    EXPECT_EQ(iso_utc(*s.status("every-minute").next_run_at), "2026-11-29T10:02:00Z");
    s.scheduler.tick(utc("2026-11-29T10:01:00Z"));  // the same slot again: nothing
    s.scheduler.tick(utc("2026-11-29T10:01:59Z"));
    // 10:02 and 10:03 missed (the process was stopped): only 10:03 runs.
    EXPECT_EQ(s.settle("every-minute", utc("2026-11-29T10:03:10Z")), "succeeded");
    EXPECT_EQ(wait_runs(*q.jobs, 2), 2);
    EXPECT_EQ(iso_utc(*s.status("every-minute").next_run_at), "2026-11-29T10:04:00Z");

    const auto text = s.metrics_text();
    EXPECT_TRUE(has_line(text, R"(levqor_schedule_runs_total{schedule="every-minute",outcome="enqueued"} 2)")) << text;
    EXPECT_TRUE(has_line(text, R"(levqor_schedule_runs_total{schedule="every-minute",outcome="succeeded"} 2)")) << text;
    EXPECT_TRUE(has_line(text, R"(levqor_schedule_runs_total{schedule="every-minute",outcome="skipped"} 0)")) << text;
    EXPECT_TRUE(has_line(text, R"(levqor_schedule_period_seconds{schedule="every-minute"} 60)")) << text;
    EXPECT_TRUE(has_line(text, "levqor_schedule_last_success_timestamp_seconds{schedule=\"every-minute\"} " +
                                   std::to_string(utc("2026-11-29T10:03:10Z").time_since_epoch().count())))
        << text;
    // The slot's Idempotency-Key went with the job.
    bool logged = false;
    for (const auto& line : q.log.snapshot()) {
        if (line.value("msg", "") == "schedule run" &&
            line.value("idempotency_key", json()).dump() == "\"schedule:every-minute:2026-11-29T10:03:00Z\"")
            logged = true;
    }
    EXPECT_TRUE(logged);
}

TEST(Scheduler, CatchUpRunsTheLatestMissedSlotOnceIfYoungerThanCatchUp) {
    TempDir dir;
    QueueFixture q(dir);
    const auto daily = spec("daily", "5 0 * * *");
    {
        SchedulerFixture a(q, {daily});
        a.scheduler.tick(utc("2026-11-29T00:04:00Z"));  // yesterday's 00:05 is older than 6 h
        EXPECT_FALSE(a.status("daily").last_run_at);
        EXPECT_EQ(a.settle("daily", utc("2026-11-29T00:05:00Z")), "succeeded");
    }
    EXPECT_EQ(wait_runs(*q.jobs, 1), 1);
    {
        // Restarted at 03:00: today's 00:05 is 2 h 55 min old, but it ran:
        // the slot's Idempotency-Key makes the catch-up a replay.
        SchedulerFixture b(q, {daily});
        EXPECT_EQ(b.settle("daily", utc("2026-11-29T03:00:00Z")), "succeeded");
        const auto text = b.metrics_text();
        EXPECT_TRUE(has_line(text, R"(levqor_schedule_runs_total{schedule="daily",outcome="skipped"} 1)")) << text;
        EXPECT_TRUE(has_line(text, R"(levqor_schedule_runs_total{schedule="daily",outcome="enqueued"} 0)")) << text;
    }
    {
        // Down from before 00:05 the next day until 05:00: 4 h 55 min, runs once at start.
        SchedulerFixture c(q, {daily});
        EXPECT_EQ(c.settle("daily", utc("2026-11-30T05:00:00Z")), "succeeded");
        EXPECT_EQ(iso_utc(*c.status("daily").next_run_at), "2026-12-01T00:05:00Z");
        c.scheduler.tick(utc("2026-11-30T05:00:01Z"));
        c.scheduler.tick(utc("2026-11-30T06:00:00Z"));
        const auto text = c.metrics_text();
        EXPECT_TRUE(has_line(text, R"(levqor_schedule_runs_total{schedule="daily",outcome="enqueued"} 1)")) << text;
    }
    EXPECT_EQ(wait_runs(*q.jobs, 2), 2);
    {
        // Down until 06:05:01 the day after: the slot is older than catch_up_s (6 h): not run.
        SchedulerFixture d(q, {daily});
        d.scheduler.tick(utc("2026-12-01T06:05:01Z"));
        EXPECT_FALSE(d.status("daily").last_run_at);
        EXPECT_EQ(iso_utc(*d.status("daily").next_run_at), "2026-12-02T00:05:00Z");
    }
    EXPECT_EQ(q.jobs->runs.load(), 2);
}

TEST(Scheduler, TwoInstancesOnOneQueueGiveOneJobPerSlot) {
    TempDir dir;
    QueueFixture q(dir);
    SchedulerFixture a(q, {spec("m", "*/5 * * * *")});
    SchedulerFixture b(q, {spec("m", "*/5 * * * *")});
    for (const char* t : {"2026-11-29T10:04:00Z", "2026-11-29T10:05:00Z", "2026-11-29T10:10:00Z"}) {
        a.scheduler.tick(utc(t));
        b.scheduler.tick(utc(t));
    }
    EXPECT_EQ(a.settle("m", utc("2026-11-29T10:10:00Z")), "succeeded");
    EXPECT_EQ(b.settle("m", utc("2026-11-29T10:10:00Z")), "succeeded");  // b follows a's job
    EXPECT_EQ(wait_runs(*q.jobs, 3), 3);                                 // 10:00 (catch-up), 10:05, 10:10: one each
    EXPECT_EQ(a.status("m").last_job_id, b.status("m").last_job_id);
    EXPECT_TRUE(has_line(a.metrics_text(), R"(levqor_schedule_runs_total{schedule="m",outcome="enqueued"} 3)"));
    EXPECT_TRUE(has_line(b.metrics_text(), R"(levqor_schedule_runs_total{schedule="m",outcome="skipped"} 3)"));
}

TEST(Scheduler, InlineModeRunsTheJobOnTheSchedulersThread) {
    TempDir dir;
    QueueFixture q(dir);
    SchedulerFixture s(q, {spec("m", "0 * * * *")}, /*queued=*/false, 0s);
    s.scheduler.tick(utc("2026-11-29T10:30:00Z"));
    EXPECT_EQ(s.settle("m", utc("2026-11-29T11:00:00Z")), "succeeded");
    EXPECT_EQ(q.jobs->runs.load(), 1);
    // A manual run is handed to the scheduler's thread (here: the next tick).
    s.now = utc("2026-11-29T11:10:00Z");
    const auto id = s.scheduler.run_now("m");
    EXPECT_EQ(q.jobs->runs.load(), 1);
    s.scheduler.tick(s.now);
    EXPECT_EQ(s.status("m").last_job_id, id);
    EXPECT_EQ(s.settle("m", s.now), "succeeded");
    EXPECT_EQ(q.jobs->runs.load(), 2);
    EXPECT_THROW(s.scheduler.run_now("nope"), UnknownSchedule);
}

TEST(Scheduler, TheThreadRunsDueSlotsWithTheRealClock) {
    TempDir dir;
    QueueFixture q(dir);
    // The real clock and thread; a schedule due every minute is too slow for
    // a unit test, so the manual run proves the thread wakes and runs.
    Scheduler scheduler(
        Scheduler::Settings{{spec("m", "0 0 1 1 *")}, 0s}, q.queue, [] { return false; }, q.registry, q.log.logger,
        q.errors);
    scheduler.start();
    scheduler.run_now("m");
    EXPECT_EQ(wait_runs(*q.jobs, 1), 1);
    scheduler.stop();
}

TEST(Scheduler, JobsAreCheckedLikePostJobs) {
    TempDir dir;
    QueueFixture q(dir);
    metrics::Registry registry;
    const auto make = [&](ScheduleSpec one) {
        Scheduler(
            Scheduler::Settings{{std::move(one)}, 0s}, q.queue, [] { return true; }, registry, q.log.logger, q.errors);
    };
    try {
        make(spec("x", "0 0 * * *", json{{"bad", 1}}));
        ADD_FAILURE() << "accepted";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()),
                  R"("schedules.x.job" = {"payload":{"bad":1},"type":"counted"} is invalid: payload.bad is refused)");
    }
    try {
        make(ScheduleSpec{"y", std::string("0 0 * * *"), json{{"type", "nosuch"}, {"payload", json::object()}}, false});
        ADD_FAILURE() << "accepted";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("\"schedules.y.job\""), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("nosuch"), std::string::npos) << e.what();
    }
    // A built-in whose type is not registered (yet) is listed, not scheduled.
    SchedulerFixture s(q, {ScheduleSpec{"metrics-daily-reset", std::string("5 0 * * *"),
                                        json{{"type", "metrics_daily_reset"}, {"payload", json::object()}}, true}});
    s.scheduler.tick(utc("2026-11-29T00:05:00Z"));
    const auto status = s.status("metrics-daily-reset");
    EXPECT_EQ(status.cron, "5 0 * * *");
    EXPECT_FALSE(status.next_run_at);
    EXPECT_FALSE(status.last_run_at);
    EXPECT_TRUE(q.log.has("a built-in schedule's job type is not registered; the schedule does not run"));
    EXPECT_TRUE(has_line(s.metrics_text(), R"(levqor_schedule_period_seconds{schedule="metrics-daily-reset"} 0)"));
    EXPECT_THROW(s.scheduler.run_now("metrics-daily-reset"), queue::InvalidJob);
    // Once its type is registered (the cost component), it is scheduled.
    q.queue.register_executor("metrics_daily_reset", q.jobs);
    SchedulerFixture registered(
        q, {ScheduleSpec{"metrics-daily-reset", std::string("5 0 * * *"),
                         json{{"type", "metrics_daily_reset"}, {"payload", json::object()}}, true}});
    registered.scheduler.tick(utc("2026-11-29T00:04:00Z"));
    EXPECT_EQ(iso_utc(*registered.status("metrics-daily-reset").next_run_at), "2026-11-29T00:05:00Z");
}

TEST(Scheduler, ReconfigureKeepsUnchangedSchedulesAndStartsNewOnesAtTheirNextSlot) {
    TempDir dir;
    QueueFixture q(dir);
    SchedulerFixture s(q, {spec("a", "*/5 * * * *")}, true, 0s);
    s.scheduler.tick(utc("2026-11-29T10:04:00Z"));
    EXPECT_EQ(s.settle("a", utc("2026-11-29T10:05:00Z")), "succeeded");
    s.scheduler.reconfigure({{spec("a", "*/5 * * * *"), spec("b", "0 * * * *")}, 21600s});
    EXPECT_EQ(s.status("a").last_status, "succeeded");  // kept
    s.scheduler.tick(utc("2026-11-29T10:06:00Z"));
    EXPECT_FALSE(s.status("b").last_run_at);  // no catch-up of 10:00 for a schedule added by SIGHUP
    EXPECT_EQ(iso_utc(*s.status("b").next_run_at), "2026-11-29T11:00:00Z");
    EXPECT_THROW(s.scheduler.reconfigure({{spec("a", "*/5 * * * *", json{{"bad", 1}})}, 0s}), ConfigError);
    EXPECT_EQ(s.scheduler.list().size(), 2u);  // unchanged
    s.scheduler.tick(utc("2026-11-29T10:06:30Z"));
    EXPECT_TRUE(has_line(s.metrics_text(), R"(levqor_schedule_period_seconds{schedule="b"} 3600)"));
    s.scheduler.reconfigure({{spec("a", "*/10 * * * *")}, 0s});  // changed: from its next slot; b removed
    ASSERT_EQ(s.scheduler.list().size(), 1u);
    EXPECT_TRUE(has_line(s.metrics_text(), R"(levqor_schedule_period_seconds{schedule="b"} 0)"));  // not late
    s.scheduler.tick(utc("2026-11-29T10:07:00Z"));
    EXPECT_EQ(iso_utc(*s.status("a").next_run_at), "2026-11-29T10:10:00Z");
    EXPECT_FALSE(s.status("a").last_run_at);
    EXPECT_EQ(s.settle("a", utc("2026-11-29T10:10:00Z")), "succeeded");
    EXPECT_EQ(wait_runs(*q.jobs, 2), 2);
}

TEST(ScheduleRoutes, StatusJson) {
    Scheduler::Status s;
    s.name = "backup:main";
    s.cron = "0 3 * * *";
    s.job_type = "backup";
    s.next_run_at = utc("2026-11-30T03:00:00Z");
    EXPECT_EQ(to_json(s).dump(),
              R"({"name":"backup:main","cron":"0 3 * * *","job_type":"backup","next_run_at":"2026-11-30T03:00:00Z",)"
              R"("last_run_at":null,"last_status":null,"last_job_id":null})");
}

TEST(ScheduleCtl, TableAndNames) {
    const auto table = ctl::schedules_table(json::parse(R"([
        {"name":"backup:main","cron":null,"job_type":"backup","next_run_at":null,"last_run_at":null,
         "last_status":null,"last_job_id":null},
        {"name":"metrics-daily-reset","cron":"5 0 * * *","job_type":"metrics_daily_reset",
         "next_run_at":"2026-11-30T00:05:00Z","last_run_at":"2026-11-29T00:05:00Z","last_status":"succeeded",
         "last_job_id":"0123456789abcdef0123456789abcdef"}])"));
    EXPECT_EQ(table,
              "NAME                    CRON              NEXT RUN               LAST RUN               LAST STATUS\n"
              "backup:main             (disabled)        -                      -                      -\n"
              "metrics-daily-reset     5 0 * * *         2026-11-30T00:05:00Z   2026-11-29T00:05:00Z   succeeded\n");
    EXPECT_TRUE(ctl::schedule_name_shape("backup:main"));
    EXPECT_FALSE(ctl::schedule_name_shape("a/b"));
    EXPECT_FALSE(ctl::schedule_name_shape(""));
}

// ---- settings ---------------------------------------------------------------------

std::string config_error(const TempDir& dir, const std::string& file) {
    try {
        load_config(dir.write("c.json", file), env_of({}));
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

TEST(ScheduleSettings, FileAndBuiltIns) {
    TempDir dir;
    const auto config = load_config(dir.write("c.json", R"({
        "schedules": {
            "nightly": {"cron": "30 1 * * MON-FRI", "job": {"type": "noop", "payload": {"a": 1}}},
            "metrics-daily-reset": {"cron": "10 0 * * *"},
            "backup:local": {"cron": null}
        },
        "scheduler": {"catch_up_s": 600},
        "backup": {"targets": [
            {"name": "main", "kind": "postgres", "url": "postgresql://db/app", "schedule": "0 3 * * *"},
            {"name": "local", "kind": "sqlite", "path": "/var/lib/app.db", "schedule": "0 0 * * *"}]}
    })"),
                                    env_of({}));
    EXPECT_EQ(config.schedules.catch_up, 600s);
    EXPECT_EQ(load_config(std::nullopt, env_of({})).schedules.catch_up, 21600s);
    const auto all = scheduled(config);
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all[0].name, "abuse-purge");  // built in, abuse.retention_days
    EXPECT_EQ(all[0].cron, "17 3 * * *");
    EXPECT_EQ(all[0].job, json::parse(R"({"type":"abuse_purge","payload":{}})"));
    EXPECT_TRUE(all[0].builtin);
    EXPECT_EQ(all[1].name, "backup:local");
    EXPECT_FALSE(all[1].cron);  // disabled, keeps its job
    EXPECT_EQ(all[1].job, json::parse(R"({"type":"backup","payload":{"target":"local"}})"));
    EXPECT_EQ(all[2].name, "backup:main");
    EXPECT_EQ(all[2].cron, "0 3 * * *");
    EXPECT_EQ(all[2].job, json::parse(R"({"type":"backup","payload":{"target":"main"}})"));
    EXPECT_TRUE(all[2].builtin);
    EXPECT_EQ(all[3].name, "metrics-daily-reset");
    EXPECT_EQ(all[3].cron, "10 0 * * *");  // overridden, keeps its job
    EXPECT_EQ(all[3].job, json::parse(R"({"type":"metrics_daily_reset","payload":{}})"));
    EXPECT_EQ(all[4].name, "nightly");
    EXPECT_EQ(all[4].job, json::parse(R"({"type":"noop","payload":{"a":1}})"));
    EXPECT_FALSE(all[4].builtin);

    const auto defaults = resolve_schedules(ScheduleSettings{}, {});
    ASSERT_EQ(defaults.size(), 2u);
    EXPECT_EQ(defaults[0].name, "abuse-purge");
    EXPECT_EQ(defaults[1].name, "metrics-daily-reset");
    EXPECT_EQ(defaults[1].cron, "5 0 * * *");
}

TEST(ScheduleSettings, BadValuesNameTheScheduleAndTheField) {
    TempDir dir;
    const auto error =
        config_error(dir, R"({"schedules": {"nightly": {"cron": "0 25 * * *", "job": {"type": "noop"}}}})");
    EXPECT_NE(
        error.find(R"("schedules.nightly.cron" = "0 25 * * *" is invalid: field 2 (hour) "25": out of range 0-23)"),
        std::string::npos)
        << error;
    const std::pair<const char*, const char*> cases[] = {
        {R"({"schedules": {"n": {"cron": "0 0 * * *"}}})", "missing \"job\""},
        {R"({"schedules": {"backup:nope": {"cron": "0 0 * * *"}}})",
         "\"schedules.backup:nope\": no built-in schedule has this name"},
        {R"({"schedules": {"n": {"job": {"type": "noop"}}}})", "missing \"cron\""},
        {R"({"schedules": {"n": {"cron": 5, "job": {"type": "noop"}}}})", "\"schedules.n.cron\" = 5 is invalid"},
        {R"({"schedules": {"n": {"cron": "@daily", "job": {"payload": {}}}}})", "missing \"type\""},
        {R"({"schedules": {"n": {"cron": "@daily", "job": {"type": "noop", "payload": 1}}}})",
         "\"schedules.n.job.payload\" = 1 is invalid: expected an object"},
        {R"({"schedules": {"n": {"cron": "@daily", "jobs": {}}}})", "unknown key \"schedules.n.jobs\""},
        {R"({"schedules": {"a b": {"cron": "@daily", "job": {"type": "noop"}}}})", "a schedule name is 1 to 100"},
        {R"({"schedules": []})", "expected an object of name"},
        {R"({"scheduler": {"catch_up_s": -1}})", "scheduler.catch_up_s"},
        {R"({"scheduler": {"catch_up_s": 86401}})", "scheduler.catch_up_s"},
        {R"({"schedules": {"n": {"cron": "0 0 31 2 *", "job": {"type": "noop"}}}})", "never matches"},
        {R"({"schedules": {"n": {"cron": "*/2 * * * * *", "job": {"type": "noop"}}}})", "for tests only"},
    };
    for (const auto& [file, part] : cases) {
        const auto e = config_error(dir, file);
        EXPECT_NE(e.find(part), std::string::npos) << file << " -> " << e;
    }
}

}  // namespace
}  // namespace levqor::controld::schedule
