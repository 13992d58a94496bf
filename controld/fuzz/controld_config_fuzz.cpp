// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for levqor-controld's configuration (load_config): the
// JSON file given with --config and the LEVQOR_* / REDIS_URL / ... environment.
// Operator input, read at start and again on every SIGHUP.
//
// Input: the file's bytes up to the first NUL; after it, NAME=value lines
// that the environment lookup answers. The file is handed over as
// /proc/self/fd/N of a memfd, so load_config reads it exactly as it reads a
// real one.
//
// Invariant: load_config returns a Config or throws ConfigError — the only
// exception controld's start-up and its SIGHUP reload catch (anything else
// would end the daemon on a reload); and what --check-config prints of a
// Config that loaded (effective_settings, dumped) never throws.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "levqor/controld/check_config.h"
#include "levqor/controld/config.h"

namespace cd = levqor::controld;

namespace {

std::map<std::string, std::string> environment_of(std::string_view text) {
    std::map<std::string, std::string> env;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const auto line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        const auto eq = line.find('=');
        if (eq != std::string_view::npos) env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    return env;
}

// One memfd for the whole run, rewritten for every input.
const std::string& config_path(std::string_view contents) {
    static const int fd = memfd_create("controld-config", 0);
    static const std::string path = "/proc/self/fd/" + std::to_string(fd);
    if (fd < 0 || ftruncate(fd, 0) != 0 ||
        pwrite(fd, contents.data(), contents.size(), 0) != static_cast<ssize_t>(contents.size())) {
        std::abort();
    }
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nul = input.find('\0');
    const auto file = input.substr(0, nul);
    const auto env = environment_of(nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1));
    const cd::EnvLookup lookup = [&env](const std::string& name) -> std::optional<std::string> {
        const auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    };
    try {
        const cd::Config config = cd::load_config(config_path(file), lookup);
        if (config.flags.file.empty() || config.data_dir.empty() || config.data_dir.front() != '/') std::abort();
        // What --check-config prints: never throws for a configuration that loaded.
        const auto shown =
            cd::effective_settings(config).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (shown.empty()) std::abort();
    } catch (const cd::ConfigError& e) {
        if (std::string_view(e.what()).empty()) std::abort();
    }
    return 0;
}
