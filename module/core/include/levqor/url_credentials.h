// Masking credentials before a text reaches a log or an error message:
// nginx's messages about redis= URLs, the shared Redis URL parser's errors
// and controld's error-event scrubber all use this one rule. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace levqor {

// The text with the userinfo of every "<scheme>://<userinfo>@" replaced by
// "***". A URL runs from "://" to the next whitespace or quote; its
// userinfo ends at the URL's last '@', the Redis URL grammar's rule (a
// password may contain '@', ':' and '/'). Masking too much is preferred to
// too little: an '@' later in a path or query hides the host as well.
std::string mask_url_credentials(std::string_view text);

}  // namespace levqor
