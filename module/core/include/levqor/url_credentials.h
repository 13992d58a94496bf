// SPDX-License-Identifier: Apache-2.0
// Masking credentials before a text reaches a log or an error message:
// nginx's messages about redis= URLs, the shared Redis URL parser's errors
// and controld's error-event scrubber all use this one rule: the userinfo
// of "<scheme>://<userinfo>@" becomes "***", and it ends at the URL's last
// '@' (the Redis URL grammar's rule: a password may contain '@', ':', '/'
// and spaces). Masking too much is preferred to too little: an '@' later in
// a path, a query or the text after a URL hides what comes before it too.
// Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace levqor {

// The text is one URL, as written in a configuration: everything between
// "://" and its last '@'.
std::string mask_url(std::string_view url);

// Every URL in a free text (a log line, an error message): a URL runs from
// "://" to the next quote, line break or URL.
std::string mask_url_credentials(std::string_view text);

}  // namespace levqor
