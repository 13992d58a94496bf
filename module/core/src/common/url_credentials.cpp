#include "levqor/url_credentials.h"

#include <algorithm>

namespace levqor {

std::string mask_url_credentials(std::string_view text) {
    constexpr std::string_view kUrlEnd = " \t\r\n\"'";
    constexpr std::string_view kMask = "***";
    std::string out(text);
    for (auto pos = out.find("://"); pos != std::string::npos; pos = out.find("://", pos)) {
        const auto start = pos + 3;
        const auto end = std::min(out.find_first_of(kUrlEnd, start), out.size());
        const auto at = end > start ? out.rfind('@', end - 1) : std::string::npos;
        if (at != std::string::npos && at > start) {
            out.replace(start, at - start, kMask);
            pos = start + kMask.size();
        } else {
            pos = start;
        }
    }
    return out;
}

}  // namespace levqor
