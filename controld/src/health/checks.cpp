#include "levqor/controld/health/checks.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "levqor/controld/core/urls.h"

namespace levqor::controld::health {
namespace {

struct RedisDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Reply command(redisContext* c, const char* format, const std::string& a = {},
              const std::string& b = {}) {
  return Reply(static_cast<redisReply*>(redisCommand(c, format, a.c_str(), b.c_str())));
}

}  // namespace

CheckResult check_redis(const std::optional<std::string>& url, std::chrono::milliseconds timeout) {
  if (!url) return {"not_configured", ""};
  RedisUrl parsed;
  try {
    parsed = parse_redis_url(*url);
  } catch (const std::invalid_argument& e) {
    return {"down", e.what()};
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  std::unique_ptr<redisContext, RedisDeleter> c(
      redisConnectWithTimeout(parsed.host.c_str(), parsed.port, tv));
  if (!c) return {"down", "cannot allocate a redis context"};
  if (c->err) return {"down", c->errstr};
  ::fcntl(c->fd, F_SETFD, FD_CLOEXEC);  // hiredis 0.14 cannot; exec jobs close it anyway
  redisSetTimeout(c.get(), tv);
  if (!parsed.password.empty()) {
    Reply auth = parsed.username.empty()
                     ? command(c.get(), "AUTH %s", parsed.password)
                     : command(c.get(), "AUTH %s %s", parsed.username, parsed.password);
    if (!auth) return {"down", c->errstr};
    // The reply text is Redis's (e.g. WRONGPASS ...), never the password.
    if (auth->type == REDIS_REPLY_ERROR) return {"down", std::string("AUTH failed: ") + auth->str};
  }
  Reply pong = command(c.get(), "PING");
  if (!pong) return {"down", c->errstr};
  if (pong->type == REDIS_REPLY_ERROR) return {"down", pong->str};
  if (pong->type != REDIS_REPLY_STATUS || std::string(pong->str) != "PONG") {
    return {"down", "unexpected reply to PING"};
  }
  return {"ok", ""};
}

CheckResult check_postgres(const std::optional<std::string>& url,
                           std::chrono::milliseconds timeout) {
  if (!url) return {"not_configured", ""};
  const auto seconds = std::max<long>(2, static_cast<long>((timeout.count() + 999) / 1000));
  const std::string connect_timeout = std::to_string(seconds);
  // expand_dbname: the "dbname" value is the whole URL or conninfo string;
  // the keywords after it override what it says.
  const char* keywords[] = {"dbname", "connect_timeout", nullptr};
  const char* values[] = {url->c_str(), connect_timeout.c_str(), nullptr};
  switch (PQpingParams(keywords, values, /*expand_dbname=*/1)) {
    case PQPING_OK: return {"ok", ""};
    case PQPING_REJECT:
      return {"down", "the server rejects connections (starting up or shutting down)"};
    case PQPING_NO_RESPONSE: return {"down", "no response from the server"};
    case PQPING_NO_ATTEMPT: return {"down", "invalid connection parameters"};
  }
  return {"down", "unknown PQping result"};
}

}  // namespace levqor::controld::health
