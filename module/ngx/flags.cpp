// SPDX-License-Identifier: Apache-2.0
#include "flags.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <string>
#include <vector>

#include "levqor/file_access.h"
#include "metrics_zone.h"
#include "module.h"
#include "ngx_util.h"

namespace levqor::ngx {

namespace detail {
flags::FlagSet current_flags;  // set from the master's reading at worker start
bool flags_configured = false;
}  // namespace detail

namespace {

constexpr ngx_msec_t kRecheckMs = 1000;
constexpr std::size_t kMaxFileSize = 64 * 1024;

flags::FlagSet all_on() {
    flags::FlagSet set;
    for (const auto f : flags::kAll) set.set(f, flags::State::on);
    return set;
}

std::string summary(const flags::FlagSet& set) {
    std::string out;
    for (const auto f : flags::kAll) {
        out.append(out.empty() ? "" : ", ").append(flags::name(f)).append("=").append(flags::name(set.get(f)));
    }
    return out;
}

// One reading of the file, which was just stat'ed as st.
struct Reading {
    bool ok = false;
    bool retry = false;  // an I/O problem, worth another try; else the content is bad
    flags::FlagSet flags;
    std::string problem;
};

Reading read_flags(const std::string& path, const struct stat& st) {
    Reading r;
    if (st.st_size > static_cast<off_t>(kMaxFileSize)) {
        r.problem = "larger than 64k";
        return r;
    }
    ngx_fd_t fd = ngx_open_file(path.c_str(), NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        r.problem = std::string("cannot open: ") + std::strerror(errno);
        r.retry = true;
        return r;
    }
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    const ssize_t n = ::read(fd, text.data(), text.size());
    ngx_close_file(fd);
    if (n < 0) {
        r.problem = std::string("cannot read: ") + std::strerror(errno);
        r.retry = true;
        return r;
    }
    text.resize(static_cast<std::size_t>(n));
    auto parsed = flags::parse_file(text);
    if (!parsed) {
        r.problem = "invalid: " + parsed.error();
        return r;
    }
    r.ok = true;
    r.flags = parsed.value();
    return r;
}

// ---- the master, at configuration time ---------------------------------------------

// The worker user's primary and supplementary groups (as initgroups() sets them).
std::vector<gid_t> worker_groups(const ngx_core_conf_t& ccf) {
    std::vector<gid_t> groups(32);
    int n = static_cast<int>(groups.size());
    if (ccf.username != nullptr && getgrouplist(ccf.username, ccf.group, groups.data(), &n) == -1) {
        groups.resize(static_cast<std::size_t>(n));  // n now says how many there are
        if (getgrouplist(ccf.username, ccf.group, groups.data(), &n) == -1) n = 0;
    } else if (ccf.username == nullptr) {
        n = 0;
    }
    groups.resize(static_cast<std::size_t>(n));
    groups.insert(groups.begin(), ccf.group);
    return groups;
}

// False (logged) when the file, or a directory on its path, exists but the
// workers could not read it: they would never see a flag change.
bool workers_can_read(const FlagsMain& fm, const std::string& path, ngx_log_t* log) {
    const auto* ccf = reinterpret_cast<const ngx_core_conf_t*>(ngx_get_conf(fm.cycle->conf_ctx, ngx_core_module));
    std::string why, user;
    if (geteuid() == 0) {
        // Workers switch to `user` (default nobody) only when the master is root.
        if (ccf->user == static_cast<uid_t>(NGX_CONF_UNSET_UINT) || ccf->user == 0) return true;
        why = files::unreadable_by(path, files::User{ccf->user, worker_groups(*ccf)});
        user = ccf->username != nullptr ? ccf->username : std::to_string(ccf->user);
    } else {
        if (::access(path.c_str(), R_OK) == 0 || errno == ENOENT) return true;
        why = std::strerror(errno);
        const passwd* pw = getpwuid(geteuid());
        user = pw != nullptr ? pw->pw_name : std::to_string(geteuid());
    }
    if (why.empty()) return true;
    struct stat st;
    const bool exists = ::stat(path.c_str(), &st) == 0;
    const char* hint = why.rfind("the directory", 0) == 0 ? " (a checkout in root's home directory?)" : "";
    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "levqor_flags_file \"%s\" %s the worker user \"%s\" cannot read it: %s%s; move the file where "
                  "that user can read it, or chmod its directories and the file",
                  path.c_str(), exists ? "exists but" : "is in a place where", user.c_str(), why.c_str(), hint);
    return false;
}

// The init of the "levqor_flags" shared zone: nginx runs it in the master
// (and in nginx -t) once the core configuration is complete — the worker user
// is known — and before the workers start; failing it fails the start or
// the reload (the old configuration keeps running) or nginx -t. old_data is
// the previous configuration's FlagsMain on a reload (the zone is reused).
ngx_int_t master_read(ngx_shm_zone_t* zone, void* old_data) noexcept try {
    auto* fm = static_cast<FlagsMain*>(zone->data);
    const auto* before = static_cast<const FlagsMain*>(old_data);
    ngx_log_t* log = zone->shm.log;
    const std::string path(reinterpret_cast<const char*>(fm->path.data), fm->path.len);
    if (!workers_can_read(*fm, path, log)) return NGX_ERROR;
    struct stat st;
    Reading r;
    if (::stat(path.c_str(), &st) != 0) {
        r.problem = errno == ENOENT ? "missing" : std::string("cannot stat: ") + std::strerror(errno);
    } else {
        r = read_flags(path, st);
    }
    if (r.ok) {
        fm->initial = r.flags;
        ngx_log_error(NGX_LOG_INFO, log, 0, "levqor_flags_file \"%s\": %s", path.c_str(), summary(r.flags).c_str());
        return NGX_OK;
    }
    if (before != nullptr) {
        fm->initial = before->initial;
        ngx_log_error(NGX_LOG_WARN, log, 0, "levqor_flags_file \"%s\": %s; keeping the flags read before (%s)",
                      path.c_str(), r.problem.c_str(), summary(fm->initial).c_str());
    } else {
        fm->initial = all_on();
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "levqor_flags_file \"%s\": %s; until it can be read every feature runs as nginx.conf "
                      "configures it (every flag on)",
                      path.c_str(), r.problem.c_str());
    }
    return NGX_OK;
} catch (...) {
    log_exception(zone->shm.log, NGX_LOG_EMERG, "levqor_flags_file");
    return NGX_ERROR;
}

// ---- the workers: a re-check every second -----------------------------------------

struct Watcher {
    std::string path;
    ngx_event_t timer;
    struct stat last {};
    bool have_last = false;
    bool complained = false;  // logged the current problem already
};
Watcher* watcher = nullptr;  // per worker process

void complain(ngx_log_t* log, const std::string& what) {
    if (watcher->complained) return;
    watcher->complained = true;
    ngx_log_error(NGX_LOG_WARN, log, 0, "levqor_flags_file \"%s\": %s; keeping the last flags read",
                  watcher->path.c_str(), what.c_str());
}

bool same_file(const struct stat& a, const struct stat& b) {
    return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
           a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// Reads the file if it changed since the last look (controld replaces it by
// rename, so the inode changes with every write).
void recheck(ngx_log_t* log) {
    struct stat st;
    if (::stat(watcher->path.c_str(), &st) != 0) {
        complain(log, std::string("cannot stat: ") + std::strerror(errno));
        return;
    }
    if (watcher->have_last && same_file(st, watcher->last)) return;
    const Reading r = read_flags(watcher->path, st);
    if (!r.ok) {
        complain(log, r.problem);
        if (!r.retry) {  // do not re-parse the same bad file every second
            watcher->last = st;
            watcher->have_last = true;
        }
        return;
    }
    watcher->last = st;
    watcher->have_last = true;
    watcher->complained = false;
    if (r.flags != detail::current_flags) {
        detail::current_flags = r.flags;
        ngx_log_error(NGX_LOG_NOTICE, log, 0, "levqor_flags_file: %s", summary(r.flags).c_str());
    }
}

void on_timer(ngx_event_t* ev) noexcept {
    try {
        recheck(ev->log);
    } catch (...) {
        log_exception(ev->log, NGX_LOG_ERR, "levqor_flags_file: keeping the last flags, trying again in a second");
    }
    if (!ngx_exiting && !ngx_quit && !ngx_terminate) ngx_add_timer(ev, kRecheckMs);
}

}  // namespace

char* set_flags_file(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept try {
    auto& fm = static_cast<MainConf*>(conf)->flags;
    if (fm.path.len != 0) return const_cast<char*>("is duplicate");
    ngx_str_t path = conf_args(cf)[1];
    if (path.len == 0) return conf_error(cf, "empty path");
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);
    fm.path = path;
    fm.cycle = cf->cycle;
    // A small zone whose init is the master's reading (see master_read).
    static ngx_str_t name = ngx_string("levqor_flags");
    ngx_shm_zone_t* zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize, &ngx_http_levqor_module);
    if (zone == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
    zone->init = master_read;
    zone->data = &fm;
    return NGX_CONF_OK;
} catch (...) {
    return conf_exception(cf);
}

void flags_register_metrics(MetricsRegistry& metrics) {
    metrics.add_collector([](std::string& out) {
        if (!detail::flags_configured) return;
        metrics::write_family_header(out, "levqor_flag_state",
                                     "Runtime flag states as this nginx applies them (1 = current state).", "gauge");
        for (const auto f : flags::kAll) {
            for (const auto s : {flags::State::off, flags::State::shadow, flags::State::on}) {
                metrics::write_sample(out, "levqor_flag_state",
                                      {{"flag", std::string(flags::name(f))}, {"state", std::string(flags::name(s))}},
                                      std::uint64_t{detail::current_flags.get(f) == s ? 1u : 0u});
            }
        }
    });
}

void flags_init_process(ngx_cycle_t* cycle, const FlagsMain& conf) noexcept {
    detail::flags_configured = conf.path.len != 0;
    detail::current_flags = conf.initial;  // what the master read; kept if this worker cannot read the file
    if (!detail::flags_configured) return;
    try {
        static Watcher w;  // lives as long as the worker
        w.path.assign(reinterpret_cast<const char*>(conf.path.data), conf.path.len);
        ngx_memzero(&w.timer, sizeof w.timer);
        w.timer.handler = on_timer;
        w.timer.log = cycle->log;
        w.timer.data = &w;
        w.timer.cancelable = 1;  // never delays a graceful shutdown
        watcher = &w;
        recheck(cycle->log);
        ngx_add_timer(&w.timer, kRecheckMs);
    } catch (...) {
        log_exception(cycle->log, NGX_LOG_ALERT, "levqor_flags_file: cannot start watching");
    }
}

}  // namespace levqor::ngx
