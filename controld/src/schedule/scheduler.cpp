// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/schedule/scheduler.h"

#include <algorithm>

#include "levqor/controld/queue/job.h"

namespace levqor::controld::schedule {
namespace {

using nlohmann::json;

const char* const kScheduleOutcomes[] = {"enqueued", "skipped", "succeeded", "failed"};

Seconds system_now() { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

double unix_seconds(Seconds t) { return static_cast<double>(t.time_since_epoch().count()); }

// The most recent slot after `from` and at or before `now`; bounded.
std::optional<Seconds> latest_slot(const Cron& cron, Seconds from, Seconds now) {
    std::optional<Seconds> latest;
    auto next = cron.next_after(from);
    for (int steps = 0; next && *next <= now && steps < 1000000; ++steps) {
        latest = next;
        next = cron.next_after(*next);
    }
    return latest;
}

std::string job_state_label(queue::JobState state) {
    return state == queue::JobState::dead ? "failed" : std::string(queue::to_string(state));
}

}  // namespace

Scheduler::Scheduler(Settings settings, queue::QueueService& queue, Queued queued, metrics::Registry& registry,
                     const Logger& log, tracking::ErrorTracker& errors, Clock clock)
    : queue_(queue),
      queued_(std::move(queued)),
      log_(log),
      errors_(errors),
      clock_(clock ? std::move(clock) : Clock(system_now)),
      catch_up_(settings.catch_up),
      last_success_(registry.gauge("levqor_schedule_last_success_timestamp_seconds",
                                   "Unix time a schedule's job last succeeded (0: not since controld started).",
                                   {"schedule"})),
      runs_(registry.counter("levqor_schedule_runs_total",
                             "Scheduled runs by outcome: enqueued (this instance enqueued the slot's job), "
                             "skipped (another instance or an earlier run already had), succeeded and failed "
                             "(the outcome of a job this instance enqueued; failed also when it could not be "
                             "enqueued).",
                             {"schedule", "outcome"})),
      period_(registry.gauge("levqor_schedule_period_seconds",
                             "Seconds between a schedule's next two slots (0 when disabled).", {"schedule"})) {
    states_ = build(settings);
}

Scheduler::~Scheduler() {
    stop();
    if (thread_.joinable()) thread_.join();
}

std::map<std::string, Scheduler::State> Scheduler::build(const Settings& settings) const {
    std::map<std::string, State> out;
    for (const auto& spec : settings.schedules) {
        State state;
        state.spec = spec;
        if (spec.cron) {
            try {
                state.cron = Cron::parse(*spec.cron, test_seconds_allowed());
            } catch (const CronError& e) {
                throw ConfigError("\"schedules." + spec.name + ".cron\" = " + quoted(*spec.cron) +
                                  " is invalid: " + e.what());
            }
        }
        try {
            queue_.parse(spec.job.dump());
        } catch (const queue::InvalidJob& e) {
            if (!(spec.builtin && e.code() == "unknown_job_type")) {
                throw ConfigError("\"schedules." + spec.name + ".job\" = " + spec.job.dump() +
                                  " is invalid: " + e.what());
            }
            // A built-in of a component this build does not have (yet):
            // listed, not scheduled, rather than failing at every slot.
            log_.warn("a built-in schedule's job type is not registered; the schedule does not run",
                      {{"schedule", spec.name}, {"type", spec.job.value("type", "")}});
            state.cron.reset();
        }
        const auto found = states_.find(spec.name);
        if (found != states_.end() && found->second.spec == spec &&
            found->second.cron.has_value() == state.cron.has_value())
            state = found->second;  // keeps its history
        out.emplace(spec.name, std::move(state));
        for (const char* outcome : kScheduleOutcomes) runs_.labels({spec.name, outcome});
        last_success_.labels({spec.name});
        if (!state.cron) period_.labels({spec.name}).set(0);
    }
    return out;
}

void Scheduler::reconfigure(Settings settings) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto states = build(settings);
    // A removed schedule's series stay (the registry keeps them); period 0
    // takes it out of LevqorScheduleLate.
    for (const auto& [name, state] : states_) {
        if (!states.count(name)) period_.labels({name}).set(0);
    }
    // A schedule kept as it was keeps its next slot and what it follows.
    states_ = std::move(states);
    catch_up_ = settings.catch_up;
    wake_.notify_all();
}

void Scheduler::plan(State& state, Seconds now) {
    state.next.reset();
    double period = 0;
    if (state.cron) {
        state.next = state.cron->next_after(now);
        if (state.next) {
            if (const auto after = state.cron->next_after(*state.next)) period = (*after - *state.next).count();
        }
    }
    period_.labels({state.spec.name}).set(period);
}

void Scheduler::tick(Seconds now) {
    struct Due {
        std::string name;
        std::string job;
        Seconds slot;
    };
    std::vector<Due> due;
    std::vector<Manual> manual;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const bool first = !started_round_;
        started_round_ = true;
        for (auto& [name, state] : states_) {
            if (!state.cron) continue;
            std::optional<Seconds> slot;
            if (first) {
                // Catch-up: the most recent slot missed while controld was
                // down, if younger than catch_up_s (or due right now).
                slot = latest_slot(*state.cron, now - std::max(catch_up_, std::chrono::seconds(1)), now);
                plan(state, now);
            } else {
                if (!state.next) plan(state, now - std::chrono::seconds(1));  // new by SIGHUP: from now on
                if (state.next && *state.next <= now) {
                    slot = latest_slot(*state.cron, *state.next - std::chrono::seconds(1), now);
                    plan(state, now);
                }
            }
            if (slot && state.last_slot && *slot <= *state.last_slot) slot.reset();  // never twice here
            if (slot) {
                state.last_slot = slot;
                due.push_back({name, state.spec.job.dump(), *slot});
            }
        }
        manual.swap(manual_);
    }
    for (const auto& d : due) {
        try {
            fire(d.name, queue_.parse(d.job), "schedule:" + d.name + ":" + iso_utc(d.slot), now);
        } catch (const queue::InvalidJob& e) {
            log_.error("a scheduled job is refused", {{"schedule", d.name}, {"error", e.what()}});
            errors_.capture("schedule", "a scheduled job is refused", {{"schedule", d.name}, {"error", e.what()}});
            std::lock_guard<std::mutex> lock(mutex_);
            const auto found = states_.find(d.name);
            if (found != states_.end()) {
                found->second.last_run_at = now;
                found->second.last_status = "failed";
                found->second.follow = false;
            }
            count(d.name, "failed");
        }
    }
    for (const auto& m : manual) fire(m.name, m.request, std::nullopt, now);
    follow_outcomes(now);
}

void Scheduler::fire(const std::string& name, const queue::JobRequest& request, const std::optional<std::string>& key,
                     Seconds now) {
    const char* outcome = "failed";
    std::string job_id;
    std::string error;
    try {
        const auto result = queued_() ? queue_.enqueue(request, key) : queue_.run_inline(request, key).enqueue;
        if (result.key_conflict) {
            error = "the slot's Idempotency-Key was used with another job (the schedule's job changed)";
        } else if (!result.ids.empty()) {
            job_id = result.ids.front();
            outcome = result.replayed ? "skipped" : "enqueued";
        }
    } catch (const std::exception& e) {  // QueueFull, InlineBusy, BackendError
        error = e.what();
    }
    log_.log(job_id.empty() ? LogLevel::error : LogLevel::info, "schedule run",
             {{"schedule", name},
              {"idempotency_key", key ? json(*key) : json(nullptr)},
              {"outcome", outcome},
              {"job_id", job_id},
              {"error", error}});
    if (!error.empty())
        errors_.capture("schedule", "cannot enqueue a scheduled job", {{"schedule", name}, {"error", error}});
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = states_.find(name);
        if (found != states_.end()) {
            auto& state = found->second;
            state.last_run_at = now;
            state.last_job_id = job_id.empty() ? std::nullopt : std::optional<std::string>(job_id);
            state.last_status = job_id.empty() ? "failed" : "queued";
            state.follow = !job_id.empty();
            state.counted = std::string(outcome) == "enqueued";
        }
    }
    count(name, outcome);
}

void Scheduler::follow_outcomes(Seconds now) {
    std::vector<std::pair<std::string, std::string>> followed;  // name, job id
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& [name, state] : states_) {
            if (state.follow && state.last_job_id) followed.emplace_back(name, *state.last_job_id);
        }
    }
    for (const auto& [name, id] : followed) {
        std::optional<queue::QueueService::StoredJob> job;
        try {
            job = queue_.job(id);
        } catch (const std::exception&) {
            continue;  // the backend is away: next round
        }
        if (!job) continue;
        const auto state_now = job->record.state;
        const char* counted_outcome = nullptr;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            const auto found = states_.find(name);
            if (found == states_.end() || found->second.last_job_id != id) continue;
            auto& state = found->second;
            state.last_status = job_state_label(state_now);
            if (state_now == queue::JobState::succeeded || state_now == queue::JobState::dead) {
                state.follow = false;
                if (state_now == queue::JobState::succeeded) last_success_.labels({name}).set(unix_seconds(now));
                if (state.counted) counted_outcome = state_now == queue::JobState::succeeded ? "succeeded" : "failed";
            }
        }
        if (counted_outcome) count(name, counted_outcome);
    }
}

void Scheduler::count(const std::string& name, const char* outcome) { runs_.labels({name, outcome}).inc(); }

std::vector<Scheduler::Status> Scheduler::list() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Status> out;
    for (const auto& [name, state] : states_) {
        Status s;
        s.name = name;
        s.cron = state.spec.cron;
        s.job_type = state.spec.job.value("type", "");
        s.next_run_at = state.next;
        if (!state.next && state.cron) s.next_run_at = state.cron->next_after(clock_());
        s.last_run_at = state.last_run_at;
        s.last_status = state.last_status;
        s.last_job_id = state.last_job_id;
        out.push_back(std::move(s));
    }
    return out;
}

std::string Scheduler::run_now(const std::string& name) {
    std::string body;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = states_.find(name);
        if (found == states_.end()) throw UnknownSchedule("no schedule is named " + quoted(name));
        body = found->second.spec.job.dump();
    }
    auto request = queue_.parse(body);
    if (!queued_()) {
        // Inline: the scheduler's thread runs it (never this HTTP thread).
        auto id = request.jobs.front().id;
        std::lock_guard<std::mutex> lock(mutex_);
        manual_.push_back({name, std::move(request)});
        wake_.notify_all();
        return id;
    }
    const auto result = queue_.enqueue(request, std::nullopt);
    const auto id = result.ids.empty() ? request.jobs.front().id : result.ids.front();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = states_.find(name);
        if (found != states_.end()) {
            found->second.last_run_at = clock_();
            found->second.last_job_id = id;
            found->second.last_status = "queued";
            found->second.follow = true;
            found->second.counted = true;
        }
    }
    log_.info("schedule run", {{"schedule", name}, {"manual", true}, {"outcome", "enqueued"}, {"job_id", id}});
    count(name, "enqueued");
    return id;
}

Seconds Scheduler::wake_at(Seconds now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto at = now + std::chrono::seconds(1);
    for (const auto& [name, state] : states_) {
        if (state.next && *state.next < at) at = *state.next;
    }
    return at;
}

void Scheduler::start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (thread_.joinable() || stopping_) return;
    thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
}

void Scheduler::loop() {
    while (true) {
        const auto now = clock_();
        try {
            tick(now);
        } catch (const std::exception& e) {
            errors_.capture("schedule", "the scheduler's round failed", {{"error", e.what()}});
        }
        const auto at = wake_at(clock_());
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_until(lock, std::chrono::system_clock::time_point(at.time_since_epoch()),
                         [this] { return stopping_ || !manual_.empty(); });
        if (stopping_) return;
    }
}

}  // namespace levqor::controld::schedule
