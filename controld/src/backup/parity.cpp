// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/backup/parity.h"

#include <vector>

namespace levqor::controld::backup {

std::string describe_mismatch(const Parity& expected, const Parity& actual, std::size_t limit) {
    std::vector<std::string> lines;
    for (const auto& [name, want] : expected) {
        const auto it = actual.find(name);
        if (it == actual.end()) {
            lines.push_back(name + ": missing in the restore");
        } else if (it->second.rows != want.rows) {
            lines.push_back(name + ": " + std::to_string(want.rows) + " rows expected, " +
                            std::to_string(it->second.rows) + " restored");
        } else if (it->second.digest != want.digest) {
            lines.push_back(name + ": content differs (" + std::to_string(want.rows) + " rows)");
        }
    }
    for (const auto& [name, got] : actual) {
        if (expected.count(name) == 0) lines.push_back(name + ": not in the backup");
    }
    std::string out;
    for (std::size_t i = 0; i < lines.size() && i < limit; ++i) out += lines[i] + "\n";
    if (lines.size() > limit) out += "... and " + std::to_string(lines.size() - limit) + " more\n";
    if (!out.empty()) out.pop_back();
    return out;
}

}  // namespace levqor::controld::backup
