#include "flags.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <string>

#include "metrics_zone.h"
#include "module.h"
#include "ngx_util.h"

namespace levqor::ngx {

namespace detail {
flags::FlagSet current_flags;  // all off until the file is read
bool flags_configured = false;
}

namespace {

constexpr ngx_msec_t kRecheckMs = 1000;
constexpr std::size_t kMaxFileSize = 64 * 1024;

struct Watcher {
    std::string path;
    ngx_event_t timer;
    struct stat last{};
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
    if (st.st_size > static_cast<off_t>(kMaxFileSize)) {
        complain(log, "larger than 64k");
        return;
    }
    ngx_fd_t fd = ngx_open_file(watcher->path.c_str(), NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        complain(log, std::string("cannot open: ") + std::strerror(errno));
        return;
    }
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    const ssize_t n = ::read(fd, text.data(), text.size());
    ngx_close_file(fd);
    if (n < 0) {
        complain(log, std::string("cannot read: ") + std::strerror(errno));
        return;
    }
    text.resize(static_cast<std::size_t>(n));
    auto parsed = flags::parse_file(text);
    if (!parsed) {
        complain(log, "invalid: " + parsed.error());
        watcher->last = st;  // do not re-parse the same bad file every second
        watcher->have_last = true;
        return;
    }
    watcher->last = st;
    watcher->have_last = true;
    watcher->complained = false;
    if (!(parsed.value() == detail::current_flags)) {
        detail::current_flags = parsed.value();
        std::string summary;
        for (const auto f : flags::kAll) {
            summary.append(summary.empty() ? "" : ", ").append(flags::name(f)).append("=").append(
                flags::name(detail::current_flags.get(f)));
        }
        ngx_log_error(NGX_LOG_NOTICE, log, 0, "levqor_flags_file: %s", summary.c_str());
    }
}

void on_timer(ngx_event_t* ev) noexcept {
    try {
        recheck(ev->log);
    } catch (...) {
        // keep the last flags; try again on the next tick
    }
    if (!ngx_exiting && !ngx_quit && !ngx_terminate) ngx_add_timer(ev, kRecheckMs);
}

}  // namespace

char* set_flags_file(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto& fm = static_cast<MainConf*>(conf)->flags;
    if (fm.path.len != 0) return const_cast<char*>("is duplicate");
    ngx_str_t path = conf_args(cf)[1];
    if (path.len == 0) return conf_error(cf, "empty path");
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);
    fm.path = path;
    return NGX_CONF_OK;
}

void flags_register_metrics(MetricsRegistry& metrics) {
    metrics.add_collector([](std::string& out) {
        if (!detail::flags_configured) return;
        metrics::write_family_header(out, "levqor_flag_state",
                                     "Runtime flag states as this nginx applies them (1 = current state).",
                                     "gauge");
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
    detail::current_flags = flags::FlagSet{};  // all off until read
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
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "levqor_flags_file: cannot start watching");
    }
}

}  // namespace levqor::ngx
